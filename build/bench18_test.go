package build_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/testenv"
)

// BenchmarkMesonVsHost times a monogres build of
// postgres~18.6~barebones~amd64 (extract, meson setup, ninja -j2, meson
// install --strip, smoke test, package) against a plain host build of the
// same tarball (tar xf, meson setup with the same options, ninja -j2,
// ninja install; meson builds contrib by default, so the two do the same
// work but the smoke test and packing). It needs the host's meson, ninja,
// gcc, bison, flex and perl. See postgresVsHost.
func BenchmarkMesonVsHost(b *testing.B) {
	src := testenv.Source(b, testenv.PG186)
	postgresVsHost(b, []string{"meson", "ninja", "gcc", "bison", "flex", "perl", "tar", "bzip2"}, src, cell186, func(b *testing.B) (time.Duration, time.Duration) {
		return hostMesonBuild(b, src), 0
	})
}

// hostMesonBuild is the baseline: a plain meson build of the tarball on the
// host with the recipe's options.
func hostMesonBuild(b *testing.B, tarball string) time.Duration {
	dir := b.TempDir()
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", `set -e
tar xjf "$1"
meson setup build postgresql-18.6 --prefix="$2/inst" --libdir=lib -Doptimization=2 -Ddebug=false -Dauto_features=disabled >/dev/null
ninja -C build -j 2 >/dev/null
ninja -C build install >/dev/null
`, "sh", tarball, dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("host build: %v\n%s", err, out)
	}
	d := time.Since(start)
	if _, err := os.Stat(filepath.Join(dir, "inst", "bin", "postgres")); err != nil {
		b.Fatal(err)
	}
	return d
}
