package sdk

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// debName matches a Debian package name, optionally qualified by an
// architecture (libfoo-dev or libfoo-dev:arm64).
var debName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`)

// checkEnv reports env names that are empty or hold '=' or NUL, and values
// that hold NUL.
func checkEnv(field string, env map[string]string, bad func(field, format string, args ...any)) {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			bad(field, "name %q must be non-empty without '=' or NUL", k)
		}
		if strings.ContainsRune(v, 0) {
			bad(field, "value of %s contains a NUL byte", k)
		}
	}
}

// Validate checks the plan's structure: protocol version, relative clean paths
// without "..", non-empty argv, valid env names, valid package patterns and
// package names, parseable patches. Every problem is reported, each naming the
// field, e.g. `files[1].path "../x": must not contain ".."`.
func (p Plan) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Protocol != ProtocolVersion {
		bad("protocol", "plan speaks protocol version %d; this monogres speaks version %d", p.Protocol, ProtocolVersion)
	}
	written := map[string]bool{}
	for i, f := range p.Files {
		field := fmt.Sprintf("files[%d]", i)
		if err := checkRel(f.Path); err != nil {
			bad(fmt.Sprintf("%s.path %q", field, f.Path), "%v", err)
		} else if written[f.Path] {
			bad(fmt.Sprintf("%s.path %q", field, f.Path), "is written twice")
		}
		written[f.Path] = true
		if !utf8.ValidString(f.Content) {
			bad(field+".content", "is not valid UTF-8")
		}
		if f.Mode&^0o777 != 0 {
			bad(field+".mode", "%#o has bits beyond the permission bits 0777", f.Mode)
		}
	}
	for i, pt := range p.Patches {
		field := fmt.Sprintf("patches[%d]", i)
		if err := checkRel(pt.Path); err != nil {
			bad(fmt.Sprintf("%s.path %q", field, pt.Path), "%v", err)
		}
		if _, err := parseHunks(pt.Diff); err != nil {
			bad(field+".diff", "%v", err)
		}
	}
	for i, l := range p.SharedPreloadLibraries {
		if l == "" || strings.ContainsAny(l, ", '\"\n\\") {
			bad(fmt.Sprintf("shared_preload_libraries[%d] %q", i, l), "want a library name (no commas, quotes or spaces)")
		}
	}
	for i, l := range p.Conf {
		if k, _, ok := strings.Cut(l, "="); !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(l, "\n\r") {
			bad(fmt.Sprintf("conf[%d] %q", i, l), "want one postgresql.conf line, name = value")
		}
	}
	for i, q := range p.SmokeSQL {
		if strings.TrimSpace(q) == "" {
			bad(fmt.Sprintf("smoke_sql[%d]", i), "is empty")
		}
	}
	checkEnv("env", p.Env, bad)
	if len(p.Commands) == 0 {
		bad("commands", "plan has no commands")
	}
	for i, c := range p.Commands {
		field := fmt.Sprintf("commands[%d]", i)
		if len(c.Argv) == 0 || c.Argv[0] == "" {
			bad(field+".argv", "is empty; argv[0] must name the program")
		}
		for j, a := range c.Argv {
			if strings.ContainsRune(a, 0) {
				bad(fmt.Sprintf("%s.argv[%d]", field, j), "contains a NUL byte")
			}
		}
		checkEnv(field+".env", c.Env, bad)
		if c.Dir != "" {
			if err := checkRel(c.Dir); err != nil {
				bad(fmt.Sprintf("%s.dir %q", field, c.Dir), "%v", err)
			}
		}
	}
	for i, pat := range p.Package {
		field := fmt.Sprintf("package[%d]", i)
		if err := checkRel(pat); err != nil {
			bad(fmt.Sprintf("%s %q", field, pat), "%v", err)
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			bad(fmt.Sprintf("%s %q", field, pat), "malformed pattern: %v", err)
		}
	}
	seen := map[string]bool{}
	for i, name := range p.ExtraPackages {
		field := fmt.Sprintf("extra_packages[%d]", i)
		if !debName.MatchString(name) {
			bad(field, "%q is not a Debian package name", name)
		} else if seen[name] {
			bad(field, "%q is listed twice", name)
		}
		seen[name] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid plan: %w", errors.Join(errs...))
	}
	return nil
}

// checkRel reports why p is not a clean, slash-separated relative path
// inside the tree.
func checkRel(p string) error {
	switch {
	case p == "":
		return errors.New("is empty")
	case strings.HasPrefix(p, "/"):
		return errors.New("must be relative to the tree, not absolute")
	case strings.ContainsAny(p, "\\\x00"):
		return errors.New("must not contain a backslash or NUL")
	}
	for _, elem := range strings.Split(p, "/") {
		switch elem {
		case "..":
			return errors.New(`must not contain ".."`)
		case ".", "":
			return errors.New(`must be clean (no "." or empty elements, no trailing slash)`)
		}
	}
	return nil
}
