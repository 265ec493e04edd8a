package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/toolchains"
)

// TestClosureHost resolves a real shared object's libraries in the host's
// own root ("/", a Debian system) with fake owners: libm is needed
// directly, libc by it and by libm, and a library the tree has itself is
// not in the closure.
func TestClosureHost(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libm.so.6"); err != nil {
		t.Skip("not an amd64 Debian host")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "lib"), 0o755)
	src := filepath.Join(dir, "a.c")
	os.WriteFile(src, []byte("#include <math.h>\ndouble f(double x) { return sin(x); }\n"), 0o644)
	own := filepath.Join(tree, "lib", "libown.so.1")
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libown.so.1", "-o", own, src, "-lm"},
		{"-shared", "-fPIC", "-o", filepath.Join(tree, "lib", "ext.so"), src, "-L" + filepath.Join(tree, "lib"), "-l:libown.so.1", "-lm"},
	} {
		if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, b)
		}
	}
	owners := map[string]toolchains.Package{
		"usr/lib/x86_64-linux-gnu/libm.so.6": {Name: "libc6", Version: "2.36", Arch: "amd64", SHA256: "aa"},
	}
	libs, err := Closure(tree, nil, "/", "amd64", owners)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Library{}
	for _, l := range libs {
		got[l.Soname] = l
	}
	if _, ok := got["libown.so.1"]; ok {
		t.Error("the tree's own library is in the closure")
	}
	m := got["libm.so.6"]
	if m.Path != "/usr/lib/x86_64-linux-gnu/libm.so.6" || m.Package != "libc6" || strings.Join(m.NeededBy, ",") != "lib/ext.so,lib/libown.so.1" {
		t.Errorf("libm: %+v", m)
	}
	if c := got["libc.so.6"]; c.Path == "" || !strings.Contains(strings.Join(c.NeededBy, ","), "libm.so.6") {
		t.Errorf("libc: %+v (want it found, needed by libm too)", c)
	}
	if p := RuntimePackages(libs); len(p) != 1 || p[0] != "libc6=2.36" {
		t.Errorf("RuntimePackages = %q", p)
	}
	// bundle copies nothing of glibc.
	if err := bundle(tree, "/", libs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tree, "lib", "libm.so.6")); err == nil {
		t.Error("bundle copied glibc's libm")
	}
	libs = append(libs, Library{Soname: "libz.so.1", Path: "/usr/lib/x86_64-linux-gnu/libz.so.1", Package: "zlib1g"})
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/libz.so.1"); err == nil {
		if err := bundle(tree, "/", libs, nil); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(filepath.Join(tree, "lib", "libz.so.1")); err != nil || !fi.Mode().IsRegular() || !libs[len(libs)-1].Bundled {
			t.Errorf("libz not bundled as a file: %v %v", fi, err)
		}
	}
}

// TestParseRegress reads both pg_regress output formats.
func TestParseRegress(t *testing.T) {
	old := "============== running regression test queries        ==============\ntest pg_similarity             ... ok           24 ms\nparallel group (2 tests):  a b\n     a                        ... FAILED       3 ms\n     b                        ... ok       3 ms\nmonogres-regress-exit 2\n"
	r, rc, ran := parseRegress(old)
	if !ran || rc != "2" || strings.Join(r.Passed, ",") != "pg_similarity,b" || strings.Join(r.Failed, ",") != "a" {
		t.Errorf("15 format: %+v %q %v", r, rc, ran)
	}
	tap := "# using postmaster on /tmp, port 5432\nok 1         - numeral                                   12 ms\nnot ok 2     + parallel_x                                 3 ms\n1..2\nmonogres-regress-exit 0\n"
	r, rc, ran = parseRegress(tap)
	if !ran || rc != "0" || strings.Join(r.Passed, ",") != "numeral" || strings.Join(r.Failed, ",") != "parallel_x" {
		t.Errorf("16+ format: %+v %q %v", r, rc, ran)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".monogres-regress.out"), []byte(old), 0o644)
	os.WriteFile(filepath.Join(dir, "regression.diffs"), []byte("--- expected\n+++ results\n"), 0o644)
	var log strings.Builder
	if _, err := regressResult(dir, Settings{}, &log); err == nil || !strings.Contains(err.Error(), "1 of 3 tests failed: a") {
		t.Errorf("failing suite: %v", err)
	}
	res, err := regressResult(dir, Settings{Regress: "advisory", RegressReason: "flaky upstream"}, &log)
	if err != nil || res.Advisory != "flaky upstream" || !strings.Contains(res.Diffs, "+++ results") {
		t.Errorf("advisory: %+v %v", res, err)
	}
}
