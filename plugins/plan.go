package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/monogres/monogres/internal/termsafe"
	"github.com/monogres/monogres/plugins/sdk"
)

// ValidatePlan checks p's structure (sdk.Plan.Validate), that every extra
// toolchain package it asks for is already in the lock, as reported by
// lockedPackages (nil means the lock holds none), and that every package
// pattern can match a file installed below prefix (the request's
// Paths.Prefix; empty skips that check). A plan never widens the inputs
// silently.
func ValidatePlan(p sdk.Plan, prefix string, lockedPackages func(name string) bool) error {
	errs := []error{p.Validate()}
	for i, name := range p.ExtraPackages {
		if lockedPackages == nil || !lockedPackages(name) {
			errs = append(errs, fmt.Errorf("extra_packages[%d]: %q is not in the lock; add it to the toolchain in monogres.toml and run monogres lock (a plan may not add inputs)", i, name))
		}
	}
	if prefix != "" {
		want := strings.Split(strings.Trim(prefix, "/"), "/")
		for i, pat := range p.Package {
			elems := strings.Split(pat, "/")
			for j := 0; j < len(elems) && j < len(want); j++ {
				if ok, _ := path.Match(elems[j], want[j]); !ok {
					errs = append(errs, fmt.Errorf("package[%d] %q matches nothing: an extension installs below %s/ (write patterns like %q, or use Paths.Installed)", i, pat, strings.Join(want, "/"), strings.Join(want, "/")+"/lib/*.so"))
					break
				}
			}
		}
	}
	return errors.Join(errs...)
}

// checkPrintable rejects terminal control in the plan's paths and package
// patterns, which monogres prints (`plugin cell`, build logs): a path
// never needs an escape sequence. (Argv, env and file contents may hold
// any text; they are escaped where printed.)
func checkPrintable(p sdk.Plan) error {
	var errs []error
	check := func(field, s string) {
		if !termsafe.Clean(s) {
			errs = append(errs, fmt.Errorf("%s: %v", field, termsafe.Check(s)))
		}
	}
	for i, f := range p.Files {
		check(fmt.Sprintf("files[%d].path", i), f.Path)
	}
	for i, pt := range p.Patches {
		check(fmt.Sprintf("patches[%d].path", i), pt.Path)
	}
	for i, c := range p.Commands {
		check(fmt.Sprintf("commands[%d].dir", i), c.Dir)
	}
	for i, pat := range p.Package {
		check(fmt.Sprintf("package[%d]", i), pat)
	}
	return errors.Join(errs...)
}

// Applied is one change ApplyPlan made to the source tree.
type Applied struct {
	// Op is "wrote" (Plan.Files) or "patched" (Plan.Patches).
	Op   string
	Path string
	// Old is the content before (nil: the file did not exist); New after.
	Old, New []byte
}

// ApplyPlan writes p's files and applies its patches in the source tree at
// dir (a writable copy), and returns what it changed, in order. All writes
// go through os.Root, so no path or symlink in the tree leads outside dir.
// p should be validated first.
func ApplyPlan(dir string, p sdk.Plan) ([]Applied, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var done []Applied
	for i, f := range p.Files {
		old, err := root.ReadFile(f.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return done, fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
		if d := path.Dir(f.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return done, fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
			}
		}
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		if err := root.WriteFile(f.Path, []byte(f.Content), mode); err != nil {
			return done, fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
		if err := root.Chmod(f.Path, mode); err != nil {
			return done, fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
		done = append(done, Applied{Op: "wrote", Path: f.Path, Old: old, New: []byte(f.Content)})
	}
	for i, pt := range p.Patches {
		old, err := root.ReadFile(pt.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return done, fmt.Errorf("patches[%d] %s: the source tree has no such file to patch", i, pt.Path)
		}
		if err != nil {
			return done, fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		updated, err := sdk.ApplyPatch(old, pt.Diff)
		if err != nil {
			return done, fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		info, err := root.Stat(pt.Path)
		if err != nil {
			return done, fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		if err := root.WriteFile(pt.Path, updated, info.Mode().Perm()); err != nil {
			return done, fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		done = append(done, Applied{Op: "patched", Path: pt.Path, Old: old, New: updated})
	}
	return done, nil
}

// String is one line for a build log: "wrote x.sql (120 bytes)",
// "patched Makefile (+1 -1 lines)".
func (a Applied) String() string {
	if a.Op == "wrote" {
		if a.Old != nil {
			return fmt.Sprintf("wrote %s (%d bytes, replacing %d)", a.Path, len(a.New), len(a.Old))
		}
		return fmt.Sprintf("wrote %s (%d bytes)", a.Path, len(a.New))
	}
	var add, del int
	for _, l := range strings.Split(sdk.Diff(a.Path, string(a.Old), string(a.New)).Diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			add++
		case strings.HasPrefix(l, "-"):
			del++
		}
	}
	return fmt.Sprintf("patched %s (+%d -%d lines)", a.Path, add, del)
}

// MatchPackage reports whether the installed file rel (slash-separated,
// relative to the install root) belongs to a package described by patterns
// (Plan.Package): some pattern matches it (MatchPattern). No patterns select
// everything.
func MatchPackage(patterns []string, rel string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		if MatchPattern(pat, rel) {
			return true
		}
	}
	return false
}

// MatchPattern reports whether the package pattern pat matches rel by
// path.Match or names one of its parent directories.
func MatchPattern(pat, rel string) bool {
	for p := rel; ; {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}
