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

// TestClosureRootLibNeedsParentSoname: a root library the package needs
// (libdeb.so.1) needs a soname the parent package also has (libpq.so.5,
// as PostGIS's libgdal does): the closure names the root's copy, which is
// the one the loader finds for libdeb, and bundle never copies it over the
// parent's file.
func TestClosureRootLibNeedsParentSoname(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	root, tree := filepath.Join(dir, "root"), filepath.Join(dir, "tree")
	libdir := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	os.MkdirAll(libdir, 0o755)
	os.MkdirAll(filepath.Join(tree, "lib"), 0o755)
	src := filepath.Join(dir, "a.c")
	os.WriteFile(src, []byte("int f(void) { return 1; }\n"), 0o644)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libpq.so.5", "-o", filepath.Join(libdir, "libpq.so.5"), src},
		{"-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libdeb.so.1", "-o", filepath.Join(libdir, "libdeb.so.1"), src, "-Wl,--no-as-needed", "-L" + libdir, "-l:libpq.so.5"},
		{"-shared", "-fPIC", "-nostdlib", "-o", filepath.Join(tree, "lib", "ext.so"), src, "-Wl,--no-as-needed", "-L" + libdir, "-l:libdeb.so.1", "-l:libpq.so.5"},
	} {
		if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, b)
		}
	}
	owners := map[string]toolchains.Package{
		"usr/lib/x86_64-linux-gnu/libpq.so.5":  {Name: "libpq5", Version: "15.14-0+deb12u1", Arch: "amd64"},
		"usr/lib/x86_64-linux-gnu/libdeb.so.1": {Name: "libdeb1", Version: "1.0", Arch: "amd64"},
	}
	parent := map[string]bool{"libpq.so.5": true}
	libs, err := Closure(tree, parent, root, "amd64", owners)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Library{}
	for _, l := range libs {
		got[l.Soname] = l
	}
	if l := got["libpq.so.5"]; l.Package != "libpq5" || strings.Join(l.NeededBy, ",") != "libdeb.so.1" {
		t.Fatalf("libpq.so.5 = %+v, want the root's libpq5 needed by libdeb.so.1 only (ext.so takes the parent's)\nclosure: %+v", l, libs)
	}
	if p := RuntimePackages(libs); strings.Join(p, " ") != "libdeb1=1.0 libpq5=15.14-0+deb12u1" {
		t.Errorf("RuntimePackages = %q", p)
	}
	if err := bundle(tree, root, libs, parent); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tree, "lib", "libpq.so.5")); err == nil {
		t.Error("bundle copied libpq.so.5, which would replace the parent's")
	}
	if _, err := os.Stat(filepath.Join(tree, "lib", "libdeb.so.1")); err != nil {
		t.Errorf("libdeb.so.1 not bundled: %v", err)
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
