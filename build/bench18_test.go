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

// BenchmarkMesonVsHost times, in one run on one machine, a monogres build
// of postgres~18.6~barebones~amd64 (cold action cache, warm toolchain root:
// extract, meson setup, ninja -j2, meson install --strip, smoke test,
// package) against a plain host build of the same tarball (tar xf, meson
// setup with the same options, ninja -j2, ninja install; meson builds
// contrib by default, so the two do the same work but the smoke test and
// packing). It reports both and their ratio (target <= 1.10). It needs
// root, the host's meson, ninja, gcc, bison, flex and perl, and
// MONOGRES_BENCH_BUILD=1. build/bench/bench.sh runs it.
func BenchmarkMesonVsHost(b *testing.B) {
	if os.Getenv("MONOGRES_BENCH_BUILD") != "1" {
		b.Skip("set MONOGRES_BENCH_BUILD=1 (builds Postgres twice per iteration; see build/bench/bench.sh)")
	}
	testenv.RequireRoot(b, "namespaces, real toolchain roots")
	for _, tool := range []string{"meson", "ninja", "gcc", "bison", "flex", "perl", "tar", "bzip2"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("the host baseline needs %s on the host (apt-get install meson ninja-build bison flex): %v", tool, err)
		}
	}
	ctx := context.Background()
	shared := testStore(b)
	src := testenv.Source(b, testenv.PG186)
	tcf := buildtest.RealToolchain(b, shared.Dir())
	if _, err := tcf(ctx, toolchains.Cell{Target: "amd64"}); err != nil { // warm toolchain
		b.Fatal(err)
	}
	var host, mono time.Duration
	for b.Loop() {
		host += hostMesonBuild(b, src)
		cfg := build.Config{Store: freshStore(b, src), Toolchain: tcf, OutDir: b.TempDir(), Jobs: 1, MakeJobs: 2}
		start := time.Now()
		res, err := build.Build(ctx, cfg, []build.Cell{cell186})
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
