package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/testenv"
)

// qemuDeb is Debian 12's qemu-user-static, as the repository's lock pins it
// for the arm64 toolchain root.
var qemuDeb = testenv.File{
	URL:    "https://deb.debian.org/debian/pool/main/q/qemu/qemu-user-static_7.2+dfsg-7+deb12u18+b3_amd64.deb",
	SHA256: "c3e3ba2bd87f8c5b9a5da5ef21b5a3b82d7c63b89dd448d9ddaa4eabc5b6e402",
}

// hostBinfmt lists the host's binfmt_misc registrations (nil when it is not
// mounted).
func hostBinfmt(t *testing.T) []string {
	ents, err := os.ReadDir("/proc/sys/fs/binfmt_misc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "register" && e.Name() != "status" {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestForeignProgramsUseTheSandboxsBinfmt runs a real arm64 program (the
// probe, built for arm64) under Debian's qemu-aarch64-static registered in
// the sandbox's own binfmt_misc instance: the host's registrations are the
// same afterwards, and a sandbox without the registration cannot run the
// program even where the host has one.
func TestForeignProgramsUseTheSandboxsBinfmt(t *testing.T) {
	root := testRoot(t)
	if testing.Short() {
		t.Skip("downloads qemu-user-static (60 MB) into the test cache")
	}
	dir := t.TempDir()
	deb := filepath.Join(testenv.CacheDir(t), "debs", qemuDeb.SHA256+".deb")
	if err := testenv.Download(context.Background(), qemuDeb.URL, qemuDeb.SHA256, deb); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg-deb", "-x", deb, filepath.Join(dir, "qemu")).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "qemu/usr/bin/qemu-aarch64-static"), filepath.Join(bin, "qemu-aarch64-static")); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, "probe-arm64"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the arm64 probe: %v\n%s", err, out)
	}

	before := hostBinfmt(t)
	reg := sandbox.QemuAarch64("/build/src/qemu-aarch64-static")
	reg.Name = fmt.Sprintf("monogres-test-%d", os.Getpid())
	spec := sandbox.Spec{Root: root, Mounts: []sandbox.Mount{sandbox.BindRO(bin, sandbox.SrcDir)}, Binfmt: []sandbox.Binfmt{reg}}
	got := mustRun(t, spec, "sh", "-c", "ls /proc/sys/fs/binfmt_misc | tr '\\n' ' '; /build/src/probe-arm64 ifaces | cut -d' ' -f1")
	if want := reg.Name + " register status lo\n"; got != want {
		t.Errorf("inside: %q, want %q", got, want)
	}
	after := hostBinfmt(t)
	if !slices.Equal(before, after) || slices.Contains(after, reg.Name) {
		t.Errorf("the host's binfmt_misc changed: before %v, after %v", before, after)
	}
	t.Logf("host binfmt_misc registrations, before and after: %v", after)

	r := run(t, context.Background(), sandbox.Spec{Root: root, Mounts: []sandbox.Mount{sandbox.BindRO(bin, sandbox.SrcDir)}}, "/build/src/probe-arm64", "ifaces")
	var se *sandbox.SetupError
	if !errors.As(r.err, &se) || !strings.Contains(r.err.Error(), "exec format error") {
		t.Errorf("an arm64 program without a registration in the sandbox: %v (stdout %q), want exec format error", r.err, r.stdout)
	}
}
