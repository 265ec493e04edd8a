package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSandboxPaths links real shared objects with the host's gcc: one
// with RUNPATH /build/pg/lib (what PGXS gave extensions before rpathdir was
// passed) must fail naming the file and the path; $ORIGIN/../lib passes,
// and so do a text file without the prefix and a debug build whose only
// sandbox path is in its debug sections (its source's path).
func TestCheckSandboxPaths(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	// The source's own path has the prefix: debug info records it.
	src := filepath.Join(dir, "build", "src", "a.c")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, []byte("int answer(void) { return 42; }\n"), 0o644)
	link := func(name string, args ...string) string {
		tree := filepath.Join(dir, name)
		os.MkdirAll(filepath.Join(tree, "lib"), 0o755)
		out := filepath.Join(tree, "lib", "a.so")
		cmd := exec.Command("gcc", append([]string{"-shared", "-fPIC", "-o", out, src}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, b)
		}
		os.WriteFile(filepath.Join(tree, "lib", "a.control"), []byte("module_pathname = '$libdir/a'\n"), 0o644)
		return tree
	}
	bad := link("bad", "-Wl,-rpath,/build/pg/lib,--enable-new-dtags")
	err := CheckSandboxPaths(bad)
	if err == nil || !strings.Contains(err.Error(), "lib/a.so records the sandbox path \"/build/pg/lib\" (ELF section .dynstr)") {
		t.Fatalf("RUNPATH /build/pg/lib: %v", err)
	}
	if err := CheckSandboxPaths(link("good", "-Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags")); err != nil {
		t.Fatal(err)
	}
	debug := link("debug", "-g")
	if b, _ := os.ReadFile(filepath.Join(debug, "lib", "a.so")); !strings.Contains(string(b), "/build/src") {
		t.Fatal("the debug build does not record its source path: the case shows nothing")
	}
	if err := CheckSandboxPaths(debug); err != nil {
		t.Fatalf("debug sections and .comment are not checked: %v", err)
	}
	script := filepath.Join(dir, "script")
	os.MkdirAll(filepath.Join(script, "bin"), 0o755)
	os.WriteFile(filepath.Join(script, "bin", "run"), []byte("#!/bin/sh\nexec /build/src/tool \"$@\"\n"), 0o755)
	if err := CheckSandboxPaths(script); err == nil || !strings.Contains(err.Error(), `bin/run records the sandbox path "/build/src/tool"`) {
		t.Fatalf("script: %v", err)
	}
	os.Remove(filepath.Join(script, "bin", "run"))
	os.Symlink("/build/pg/lib/libpq.so.5", filepath.Join(script, "bin", "link"))
	if err := CheckSandboxPaths(script); err == nil || !strings.Contains(err.Error(), "bin/link is a symlink to the sandbox path /build/pg/lib/libpq.so.5") {
		t.Fatalf("symlink: %v", err)
	}
}
