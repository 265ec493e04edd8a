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
	"github.com/monogres/monogres/toolchains"
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
	if _, err := tcf(ctx, toolchains.Cell{Target: "amd64"}); err != nil { // warm toolchain
		b.Fatal(err)
	}
	c := cell15("barebones", "amd64")
	var host, contrib, mono time.Duration
	for b.Loop() {
		h, hc := hostBuild(b, shared.Path(testenv.PG1518.SHA256))
		host += h
		contrib += hc

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
	// monogres also builds and installs contrib (and runs the smoke test and
	// packs): the like-for-like ratio counts contrib on the host too.
	b.ReportMetric(contrib.Seconds()/n, "host-contrib-s")
	b.ReportMetric(mono.Seconds()/(host+contrib).Seconds(), "ratio-with-contrib")
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
