package build_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/toolchains"
)

// postgresVsHost is the frame of the Postgres *VsHost benchmarks: in one
// run on one machine, per iteration a plain host build of the tarball src
// (host: its core time, and extra work monogres also does that the host
// build leaves out, such as contrib) and a monogres build of cell c in a
// fresh store (cold action cache, warm toolchain root). It reports both,
// their ratio (target <= 1.10) and, when extra is measured, the
// like-for-like ratio. It needs root, the host tools and
// MONOGRES_BENCH_BUILD=1 (each iteration builds Postgres twice);
// build/bench/bench.sh runs it.
func postgresVsHost(b *testing.B, tools []string, src string, c build.Cell, host func(b *testing.B) (core, extra time.Duration)) {
	if os.Getenv("MONOGRES_BENCH_BUILD") != "1" {
		b.Skip("set MONOGRES_BENCH_BUILD=1 (builds Postgres twice per iteration; see build/bench/bench.sh)")
	}
	testenv.RequireRoot(b, "namespaces, real toolchain roots")
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("the host baseline needs %s on the host (apt-get install %v): %v", tool, tools, err)
		}
	}
	ctx := context.Background()
	tcf := buildtest.RealToolchain(b, testStore(b).Dir())
	if _, err := tcf(ctx, toolchains.Cell{Target: c.Arch}); err != nil { // warm toolchain
		b.Fatal(err)
	}
	var v vsHost
	var extra time.Duration
	for b.Loop() {
		h, x := host(b)
		v.host += h
		extra += x
		cfg := build.Config{Store: freshStore(b, src), Toolchain: tcf, OutDir: b.TempDir(), Jobs: 1, MakeJobs: 2}
		start := time.Now()
		res, err := build.Build(ctx, cfg, []build.Cell{c})
		if err != nil || res[0].State != event.StateBuilt {
			b.Fatal(err)
		}
		v.mono += time.Since(start)
	}
	v.report(b, "host-s")
	if extra > 0 {
		b.ReportMetric(extra.Seconds()/float64(b.N), "host-extra-s")
		b.ReportMetric(v.mono.Seconds()/(v.host+extra).Seconds(), "ratio-with-extra")
	}
}

// vsHost sums the two sides of a *VsHost benchmark.
type vsHost struct{ mono, host time.Duration }

// report reports both sides per iteration and their ratio; hostUnit names
// what the host side measured.
func (v vsHost) report(b *testing.B, hostUnit string) {
	n := float64(b.N)
	b.ReportMetric(v.mono.Seconds()/n, "monogres-s")
	b.ReportMetric(v.host.Seconds()/n, hostUnit)
	b.ReportMetric(v.mono.Seconds()/v.host.Seconds(), "ratio")
}
