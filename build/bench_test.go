package build_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
)

// BenchmarkBarebonesVsHost times, in one run on one machine, a monogres
// build of postgres~15.18~barebones~amd64 (cold action cache, warm
// toolchain root: extract, configure, make -j2 world-bin, install-strip,
// smoke test, package) against a plain host build of the same tarball
// (tar xf, ./configure with the same options, make -j2, make install), and
// reports both and their ratio (target <= 1.10). It needs root, the host's
// gcc and make, and MONOGRES_BENCH_BUILD=1 (each iteration builds Postgres
// twice). build/bench/bench.sh runs it.
func BenchmarkBarebonesVsHost(b *testing.B) {
	if os.Getenv("MONOGRES_BENCH_BUILD") != "1" {
		b.Skip("set MONOGRES_BENCH_BUILD=1 (builds Postgres twice per iteration; see build/bench/bench.sh)")
	}
	testenv.RequireRoot(b, "namespaces, real toolchain roots")
	for _, tool := range []string{"gcc", "make", "tar", "bzip2"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("the host baseline needs %s on the host: %v", tool, err)
		}
	}
	ctx := context.Background()
	shared := testStore(b)
	tcf := buildtest.RealToolchain(b, shared.Dir())
	if _, err := tcf(ctx, "amd64"); err != nil { // warm toolchain
		b.Fatal(err)
	}
	c := cell15("barebones", "amd64")
	var host, mono time.Duration
	for b.Loop() {
		host += hostBuild(b, shared.Path(testenv.PG1518.SHA256))

		st := freshStore(b, shared.Path(testenv.PG1518.SHA256))
		cfg := build.Config{Store: st, Toolchain: tcf, OutDir: b.TempDir(), Jobs: 1, MakeJobs: 2}
		start := time.Now()
		res, err := build.Build(ctx, cfg, []build.Cell{c})
		if err != nil || res[0].State != event.StateBuilt {
			b.Fatal(err)
		}
		mono += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(host.Seconds()/n, "host-s")
	b.ReportMetric(mono.Seconds()/n, "monogres-s")
	b.ReportMetric(mono.Seconds()/host.Seconds(), "ratio")
}

// hostBuild is the baseline: a plain build of the tarball on the host.
func hostBuild(b *testing.B, tarball string) time.Duration {
	dir := b.TempDir()
	script := `set -e
tar xjf "$1"
cd postgresql-15.18
./configure --prefix="$2/inst" --without-readline --without-zlib --without-icu >/dev/null
make -j2 >/dev/null
make install >/dev/null
`
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", script, "sh", tarball, dir)
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
