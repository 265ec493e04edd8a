package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// crossCC is the C compiler of each cross-compiled target arch.
var crossCC = map[string]string{"arm64": "aarch64-linux-gnu-gcc"}

// RelativeRpath is the make variable every PGXS build gets: Postgres'
// Makefile.global links with -Wl,-rpath,'$(rpathdir)', and rpathdir
// defaults to pg_config's libdir, the sandbox path of the parent package
// (/build/pg/lib), where no host has libpq. make turns $$ into $, the
// single quotes keep the shell off it, so the linker records the relative
// RUNPATH $ORIGIN/../lib, as in the Postgres package itself.
const RelativeRpath = "rpathdir=$$ORIGIN/../lib"

// PGXS returns the two commands of a PGXS build, the same ones the built-in
// pgxs recipe runs:
//
//	make USE_PGXS=1 PG_CONFIG=$pg_config rpathdir=$$ORIGIN/../lib [CC=cross-gcc] [args...]
//	make USE_PGXS=1 PG_CONFIG=$pg_config rpathdir=$$ORIGIN/../lib [CC=cross-gcc] [args...] install DESTDIR=$out
//
// CC names the cross compiler on a cross-compiled arch (arm64), so a plugin
// never has to; RelativeRpath keeps the sandbox path out of the RUNPATH.
func PGXS(req Request, args ...string) []Command {
	base := []string{"make", "USE_PGXS=1", "PG_CONFIG=" + req.Paths.PGConfig, RelativeRpath}
	if cc := crossCC[req.Arch]; cc != "" {
		base = append(base, "CC="+cc)
	}
	base = append(base, args...)
	build := append([]string(nil), base...)
	install := append(append([]string(nil), base...), "install", "DESTDIR="+req.Paths.Out)
	return []Command{{Argv: build}, {Argv: install}}
}

// Installed returns the Plan.Package pattern for rel, a path relative to the
// Postgres install prefix: Installed("lib/pg_demo.so") is
// "build/pg/lib/pg_demo.so" when Prefix is /build/pg.
func (p Paths) Installed(rel string) string {
	return strings.TrimPrefix(path.Join(p.Prefix, rel), "/")
}

// ReadFile reads name (slash-separated, relative to the source tree) from the
// read-only tree the plugin sees under Paths.Mount. Errors say why, e.g. that
// name is outside the tree.
func (r Request) ReadFile(name string) ([]byte, error) {
	if err := checkRel(name); err != nil {
		return nil, fmt.Errorf("reading %q: %v", name, err)
	}
	b, err := os.ReadFile(path.Join(r.Paths.Mount, name))
	return b, Explain(err, r.Paths.Mount)
}

// Substitute is the `sed -i 's/old/new/g' file` (Nix: substituteInPlace
// --replace-fail) of plugins: it replaces every occurrence of old in file
// (relative to the source tree) by new and returns the change as a Patch.
// It is an error if old does not occur: an upstream change then fails the
// plan instead of silently building something else.
func Substitute(req Request, file, old, new string) (Patch, error) {
	if old == "" {
		return Patch{}, fmt.Errorf("substitute in %s: the text to replace is empty", file)
	}
	b, err := req.ReadFile(file)
	if err != nil {
		return Patch{}, fmt.Errorf("substitute in %s: %w", file, err)
	}
	if !strings.Contains(string(b), old) {
		return Patch{}, fmt.Errorf("substitute in %s: %q does not occur in the file", file, old)
	}
	p := Diff(file, string(b), strings.ReplaceAll(string(b), old, new))
	if p.Diff == "" {
		return Patch{}, fmt.Errorf("substitute in %s: replacing %q by %q changes nothing", file, old, new)
	}
	return p, nil
}

// Diff returns a Patch turning old into new, the content of file: one hunk
// around the changed lines, with up to three lines of context. The Diff of
// equal texts is empty (not a valid patch: leave it out of the plan).
func Diff(file, old, new string) Patch {
	a, b := splitLines(old), splitLines(new)
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	if pre == len(a) && pre == len(b) {
		return Patch{Path: file}
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	const ctx = 3
	start := max(0, pre-ctx)
	endA, endB := min(len(a), len(a)-suf+ctx), min(len(b), len(b)-suf+ctx)
	oldN, newN := endA-start, endB-start
	var d strings.Builder
	fmt.Fprintf(&d, "--- a/%s\n+++ b/%s\n@@ -%s +%s @@\n", file, file, hunkRange(start, oldN), hunkRange(start, newN))
	line := func(mark byte, l string) {
		d.WriteByte(mark)
		d.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			d.WriteString("\n\\ No newline at end of file\n")
		}
	}
	for _, l := range a[start:pre] {
		line(' ', l)
	}
	for _, l := range a[pre : len(a)-suf] {
		line('-', l)
	}
	for _, l := range b[pre : len(b)-suf] {
		line('+', l)
	}
	for _, l := range a[len(a)-suf : endA] {
		line(' ', l)
	}
	return Patch{Path: file, Diff: d.String()}
}

// hunkRange renders "start,count" of a hunk header: start is 1-based, or
// the line before the hunk when it has no lines.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// Control reads and parses the extension's control file, NAME.control at
// the root of the source tree.
func (r Request) Control() (map[string]string, error) {
	name := r.Extension.Name + ".control"
	b, err := r.ReadFile(name)
	if err != nil {
		return nil, err
	}
	c, err := ParseControl(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return c, nil
}

// ParseControl parses a Postgres extension control file: lines of
// `name = value` where value is a single-quoted string (a doubled quote stands for one) or a
// bare word, # starts a comment, blank lines are ignored. Errors name the
// line.
func ParseControl(text string) (map[string]string, error) {
	out := map[string]string{}
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(l, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t'") {
			return nil, fmt.Errorf("line %d: %q is not name = value", i+1, l)
		}
		rest = strings.TrimSpace(rest)
		var val string
		if strings.HasPrefix(rest, "'") {
			var b strings.Builder
			j, closed := 1, false
			for j < len(rest) {
				if rest[j] == '\'' {
					if j+1 < len(rest) && rest[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(rest[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("line %d: unterminated quoted value of %s", i+1, name)
			}
			if tail := strings.TrimSpace(rest[j:]); tail != "" && tail[0] != '#' {
				return nil, fmt.Errorf("line %d: unexpected %q after the value of %s", i+1, tail, name)
			}
			val = b.String()
		} else {
			val, _, _ = strings.Cut(rest, "#")
			val = strings.TrimSpace(val)
			if val == "" || strings.ContainsAny(val, " \t") {
				return nil, fmt.Errorf("line %d: value of %s must be one word or a quoted string", i+1, name)
			}
		}
		out[name] = val
	}
	return out, nil
}

// Explain adds the reason a plugin's file operation failed to err when the
// WASI error alone is cryptic ("Bad file number", "Not implemented on
// wasip1"): a path outside mount (the read-only source tree) cannot be
// reached at all, and nothing under it can be written. Other errors are
// returned as they are; nil stays nil.
func Explain(err error, mount string) error {
	var pe *fs.PathError
	if err == nil || mount == "" || !errors.As(err, &pe) {
		return err
	}
	p := path.Clean("/" + strings.TrimPrefix(pe.Path, "/"))
	if !strings.HasPrefix(pe.Path, "/") {
		p = path.Join(mount, pe.Path) // relative to PWD, which is the mount
	}
	if p != mount && !strings.HasPrefix(p, mount+"/") {
		return fmt.Errorf("%w (%s is outside the source tree: a plugin sees only the read-only tree at %s)", err, pe.Path, mount)
	}
	if errors.Is(err, syscall.EIO) {
		return fmt.Errorf("%w (%s is probably a symlink leading outside the source tree, which a plugin cannot follow)", err, pe.Path)
	}
	for _, e := range []syscall.Errno{syscall.EROFS, syscall.EBADF, syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.ENOTSUP} {
		if errors.Is(err, e) && pe.Op != "read" && pe.Op != "stat" && pe.Op != "readdir" {
			return fmt.Errorf("%w (the source tree %s is read-only: return new files in Plan.Files and changes in Plan.Patches)", err, mount)
		}
	}
	return err
}
