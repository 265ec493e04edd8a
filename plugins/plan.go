package plugins

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

// ValidatePlan checks p's structure (sdk.Plan.Validate) and that every extra
// toolchain package it asks for is already in the lock, as reported by
// lockedPackages (nil means the lock holds none). A plan never widens the
// inputs silently.
func ValidatePlan(p sdk.Plan, lockedPackages func(name string) bool) error {
	errs := []error{p.Validate()}
	for i, name := range p.ExtraPackages {
		if lockedPackages == nil || !lockedPackages(name) {
			errs = append(errs, fmt.Errorf("extra_packages[%d]: %q is not in the lock; add it to the toolchain in monogres.toml and run monogres lock (a plan may not add inputs)", i, name))
		}
	}
	return errors.Join(errs...)
}

// ApplyPlan writes p's files and applies its patches in the source tree at
// dir (a writable copy). All writes go through os.Root, so no path or
// symlink in the tree leads outside dir. p should be validated first.
func ApplyPlan(dir string, p sdk.Plan) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for i, f := range p.Files {
		if d := path.Dir(f.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
			}
		}
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		if err := root.WriteFile(f.Path, []byte(f.Content), mode); err != nil {
			return fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
		if err := root.Chmod(f.Path, mode); err != nil {
			return fmt.Errorf("files[%d] %s: %w", i, f.Path, err)
		}
	}
	for i, pt := range p.Patches {
		old, err := root.ReadFile(pt.Path)
		if err != nil {
			return fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		updated, err := sdk.ApplyPatch(old, pt.Diff)
		if err != nil {
			return fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		info, err := root.Stat(pt.Path)
		if err != nil {
			return fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
		if err := root.WriteFile(pt.Path, updated, info.Mode().Perm()); err != nil {
			return fmt.Errorf("patches[%d] %s: %w", i, pt.Path, err)
		}
	}
	return nil
}

// MatchPackage reports whether the installed file rel (slash-separated,
// relative to the install root) belongs to a package described by patterns
// (Plan.Package): a pattern matches rel by path.Match or names one of its
// parent directories. No patterns select everything.
func MatchPackage(patterns []string, rel string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		for p := rel; ; {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return false
}
