package build_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/toolchains"
)

// TestSandboxInRealRoot runs the sandbox's isolation checks in the real
// composed amd64 toolchain root, with the mounts a build uses: the network
// is unreachable (only loopback), host files under /home and /root are not
// visible, and writes outside the writable build dirs fail.
func TestSandboxInRealRoot(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("composes a real toolchain root (downloads .debs on a fresh machine); not in -short")
	}
	ctx := context.Background()
	shared := testStore(t)
	tc, err := buildtest.RealToolchain(t, shared.Dir())(ctx, toolchains.Cell{Target: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	marker := "monogres-host-marker-" + filepath.Base(t.TempDir())
	for _, d := range []string{"/root", "/home"} {
		p := filepath.Join(d, marker)
		if err := os.WriteFile(p, []byte("host"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
	}
	src, work, out := t.TempDir(), t.TempDir(), t.TempDir()
	script := `
fail() { echo "FAIL: $*"; exit 1; }
if bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>/dev/null; then fail "reached 1.1.1.1:53"; fi
if bash -c 'exec 3<>/dev/tcp/deb.debian.org/443' 2>/dev/null; then fail "reached deb.debian.org"; fi
for p in /root/` + marker + ` /home/` + marker + `; do test ! -e "$p" || fail "host file $p visible"; done
for p in /usr/monogres-x /etc/monogres-x /monogres-x /build/monogres-x; do
  if (echo x > "$p") 2>/dev/null; then fail "wrote $p"; fi
done
echo x > /build/out/ok && echo x > /build/work/ok && echo x > /build/src/ok && echo x > /tmp/ok || fail "cannot write the build dirs"
test -x /usr/bin/gcc && test -x /usr/bin/make || fail "toolchain root not at /"
echo checks passed
`
	var buf bytes.Buffer
	err = sandbox.Run(ctx, sandbox.Spec{
		Root: tc.Dir,
		Mounts: []sandbox.Mount{
			sandbox.BindRW(src, build.SrcDir), sandbox.BindRW(work, build.WorkDir),
			sandbox.BindRW(out, build.OutDir), sandbox.Tmpfs(build.HomeDir, 0o755),
		},
		Argv: []string{"/bin/bash", "-c", script}, Env: sandbox.DefaultEnv(1), Stdout: &buf, Stderr: &buf,
	})
	if err != nil || !strings.Contains(buf.String(), "checks passed") {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if _, err := os.Stat(filepath.Join(out, "ok")); err != nil {
		t.Errorf("write to /build/out did not reach the host dir: %v", err)
	}
}
