package build_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/testenv"
)

// BenchmarkBarebonesVsHost times a monogres build of
// postgres~15.18~barebones~amd64 (extract, configure, make -j2 world-bin,
// install-strip, smoke test, package) against a plain host build of the
// same tarball (tar xf, ./configure with the same options, make -j2, make
// install); monogres also builds contrib, which host-extra-s measures on
// the host (ratio-with-extra is the like-for-like ratio). See
// postgresVsHost.
func BenchmarkBarebonesVsHost(b *testing.B) {
	src := testStore(b).Path(testenv.PG1518.SHA256)
	postgresVsHost(b, []string{"gcc", "make", "tar", "bzip2"}, src, cell15("barebones", "amd64"), func(b *testing.B) (time.Duration, time.Duration) {
		return hostBuild(b, src)
	})
}

// hostBuild is the baseline: a plain build of the tarball on the host. It
// returns the time of tar/configure/make -j2/make install, and separately the
// time of building and installing contrib, which monogres also does.
func hostBuild(b *testing.B, tarball string) (core, contrib time.Duration) {
	dir := b.TempDir()
	run := func(script string) time.Duration {
		start := time.Now()
		cmd := exec.Command("/bin/sh", "-c", script, "sh", tarball, dir)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("host build: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	core = run(`set -e
tar xjf "$1"
cd postgresql-15.18
./configure --prefix="$2/inst" --without-readline --without-zlib --without-icu >/dev/null
make -j2 >/dev/null
make install >/dev/null
`)
	if _, err := os.Stat(filepath.Join(dir, "inst", "bin", "postgres")); err != nil {
		b.Fatal(err)
	}
	contrib = run(`set -e
cd postgresql-15.18
make -C contrib -j2 >/dev/null
make -C contrib install >/dev/null
`)
	return core, contrib
}
