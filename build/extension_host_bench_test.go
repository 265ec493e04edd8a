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
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
)

// BenchmarkExtensionVsHost compares, in one run, a cold monogres build of
// the pg_similarity 1.0 cell (a fresh store with the cached barebones
// 15.18 amd64 parent: extract, plan, sandboxed make, install check,
// runtime closure, package, smoke test with CREATE EXTENSION and its
// pg_regress suite) with the same `make USE_PGXS=1 && make install` on
// the host against the same Postgres package extracted there (no smoke
// test). Reports both times and their ratio (target <= 1.5).
func BenchmarkExtensionVsHost(b *testing.B) {
	testenv.RequireRoot(b, "namespaces, real toolchain roots")
	if _, err := exec.LookPath("gcc"); err != nil {
		b.Skip("no host gcc")
	}
	ctx := context.Background()
	tc := buildtest.RealToolchain(b, testenv.CacheDir(b)+"/store")
	p := buildtest.Postgres1518("barebones", "amd64")
	var v vsHost
	for i := 0; b.Loop(); i++ {
		st := postgresPackages(b, tc, []build.Cell{p})
		addInput(b, st, pgSimilarity)
		c := build.ExtensionCell("pg_similarity~1.0~"+p.Name, p, pgSimilarity, build.Extension{Name: "pg_similarity", Version: "1.0",
			Settings: build.Settings{Regress: "advisory", RegressReason: "its expected output predates Postgres 12's float output"}})
		cfg := build.Config{Store: st, Toolchain: tc, MakeJobs: 2}
		if _, err := build.Build(ctx, cfg, []build.Cell{p}); err != nil { // parent lookup outside the timing
			b.Fatal(err)
		}
		start := time.Now()
		r, err := build.Build(ctx, cfg, []build.Cell{p, c})
		if err != nil || r[1].State != event.StateBuilt {
			b.Fatalf("cold build: %v", err)
		}
		v.mono += time.Since(start)

		dir := b.TempDir()
		pg, src := filepath.Join(dir, "pg"), filepath.Join(dir, "src")
		if err := archive.Extract(ctx, st.Path(r[0].Package), pg, archive.Options{}); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := archive.Extract(ctx, st.Path(pgSimilarity.SHA256), src, archive.Options{StripPrefix: pgSimilarity.StripPrefix}); err != nil {
			b.Fatal(err)
		}
		for _, args := range [][]string{
			{"make", "-j2", "USE_PGXS=1", "PG_CONFIG=" + pg + "/bin/pg_config"},
			{"make", "USE_PGXS=1", "PG_CONFIG=" + pg + "/bin/pg_config", "install", "DESTDIR=" + filepath.Join(dir, "out")},
		} {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		v.host += time.Since(start)
	}
	v.report(b, "host-make-s")
}
