package sdk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"io/fs"
)

// TestDiffApplies: whatever Diff returns, ApplyPatch turns old into new.
func TestDiffApplies(t *testing.T) {
	for _, tc := range []struct{ name, old, new string }{
		{"one line", "a\nb\nc\n", "a\nB\nc\n"},
		{"far apart", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n"},
		{"insert at start", "a\nb\n", "z\na\nb\n"},
		{"append", "a\nb\n", "a\nb\nc\n"},
		{"delete all", "a\nb\n", ""},
		{"into empty", "", "x\ny\n"},
		{"no newline at end", "a\nb", "a\nc"},
		{"add newline at end", "a\nb", "a\nb\n"},
		{"repeated lines", "x\nx\nx\nx\n", "x\nx\ny\nx\nx\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Diff("f", tc.old, tc.new)
			got, err := ApplyPatch([]byte(tc.old), p.Diff)
			if err != nil {
				t.Fatalf("%v\n%s", err, p.Diff)
			}
			if string(got) != tc.new {
				t.Fatalf("got %q, want %q\n%s", got, tc.new, p.Diff)
			}
		})
	}
	if p := Diff("f", "same\n", "same\n"); p.Diff != "" {
		t.Errorf("diff of equal texts: %q", p.Diff)
	}
}

func TestSubstitute(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("EXTENSION = x\nPG_CPPFLAGS = -Werror -O2\nDATA = x--1.0.sql\n"), 0o644)
	req := Request{Paths: Paths{Mount: dir}}
	p, err := Substitute(req, "Makefile", "-Werror ", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "--- a/Makefile\n+++ b/Makefile\n@@ -1,3 +1,3 @@\n EXTENSION = x\n-PG_CPPFLAGS = -Werror -O2\n+PG_CPPFLAGS = -O2\n DATA = x--1.0.sql\n"
	if p.Path != "Makefile" || p.Diff != want {
		t.Errorf("got %+v, want diff %q", p, want)
	}
	if err := (Plan{Protocol: 1, Patches: []Patch{p}, Commands: []Command{{Argv: []string{"make"}}}}).Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ file, old, err string }{
		{"Makefile", "-Wall", `substitute in Makefile: "-Wall" does not occur in the file`},
		{"Makefile", "", "the text to replace is empty"},
		{"GNUmakefile", "x", "substitute in GNUmakefile: open " + dir + "/GNUmakefile: no such file"},
		{"../etc/passwd", "x", `reading "../etc/passwd": must not contain ".."`},
	} {
		if _, err := Substitute(req, tc.file, tc.old, "y"); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Substitute(%s, %q): %v, want %q", tc.file, tc.old, err, tc.err)
		}
	}
}

func TestParseControl(t *testing.T) {
	c, err := ParseControl("# pg_demo\ncomment = 'it''s a demo' # trailing\ndefault_version = '1.2'\nrelocatable = true\n\nmodule_pathname='$libdir/pg_demo'\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"comment": "it's a demo", "default_version": "1.2", "relocatable": "true", "module_pathname": "$libdir/pg_demo"}
	if len(c) != len(want) {
		t.Errorf("got %q", c)
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %q, want %q", k, c[k], v)
		}
	}
	for in, msg := range map[string]string{
		"a = 'x\n":          "line 1: unterminated quoted value of a",
		"ok = 1\nnovalue\n": `line 2: "novalue" is not name = value`,
		"a = two words\n":   "line 1: value of a must be one word",
		"a = 'x' y\n":       `line 1: unexpected "y" after the value of a`,
	} {
		if _, err := ParseControl(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseControl(%q): %v, want %q", in, err, msg)
		}
	}
}

func TestPGXS(t *testing.T) {
	req := Request{Arch: "arm64", Paths: Paths{PGConfig: "/build/pg/bin/pg_config", Out: "/build/out", Prefix: "/build/pg"}}
	got := PGXS(req, "with_llvm=no")
	if len(got) != 2 || strings.Join(got[0].Argv, " ") != "make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc with_llvm=no" ||
		strings.Join(got[1].Argv, " ") != "make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc with_llvm=no install DESTDIR=/build/out" {
		t.Errorf("arm64: %q", got)
	}
	req.Arch = "amd64"
	if got := PGXS(req); strings.Contains(strings.Join(got[0].Argv, " "), "CC=") {
		t.Errorf("amd64 names a compiler: %q", got)
	}
	if got := req.Paths.Installed("lib/x.so"); got != "build/pg/lib/x.so" {
		t.Errorf("Installed = %q", got)
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/src/x", Err: syscall.EBADF}, "the source tree /src is read-only: return new files in Plan.Files"},
		{&fs.PathError{Op: "mkdir", Path: "sub", Err: syscall.ENOSYS}, "the source tree /src is read-only"},
		{&fs.PathError{Op: "open", Path: "/etc/passwd", Err: syscall.ENOSYS}, "/etc/passwd is outside the source tree: a plugin sees only the read-only tree at /src"},
		{&fs.PathError{Op: "open", Path: "/src/../etc", Err: syscall.ENOENT}, "outside the source tree"},
	} {
		if got := Explain(tc.err, "/src"); !strings.Contains(got.Error(), tc.want) {
			t.Errorf("Explain(%v) = %v, want %q", tc.err, got, tc.want)
		}
	}
	plain := &fs.PathError{Op: "open", Path: "/src/missing", Err: syscall.ENOENT}
	if got := Explain(plain, "/src"); got != error(plain) {
		t.Errorf("a plain not-found error was changed: %v", got)
	}
}

func TestMainPanicIsOneLine(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(strings.NewReader(`{"protocol":1}`), &out, &errOut, func(Request) (Plan, error) {
		var m map[string]int
		m["x"] = 1
		return Plan{}, nil
	})
	first, rest, _ := strings.Cut(errOut.String(), "\n")
	if code != 2 || out.Len() != 0 || first != "plugin: panic: assignment to entry in nil map" || strings.Count(rest, "\ngoroutine ") != 1 {
		t.Errorf("code %d, stdout %q, stderr:\n%s", code, out.String(), errOut.String())
	}
}
