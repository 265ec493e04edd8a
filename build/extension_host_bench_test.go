package build_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
)

// BenchmarkExtensionVsHost compares, in one run, a cold monogres build of
// an extension cell (a fresh store with the cached barebones 15.18 amd64
// parent: extract, plan, sandboxed make, install check, runtime closure,
// package, smoke test with CREATE EXTENSION and its pg_regress suite) with
// the same `make USE_PGXS=1 && make install` on the host against the same
// Postgres package extracted there (no smoke test). Reports both times and
// their ratio (target <= 1.5), for pg_similarity 1.0 (a 1 s compile: the
// cell's fixed cost dominates) and pgvector 0.8.0, each with the scratch
// trees in the store's tmp (the default) and on a tmpfs (--scratch
// /dev/shm): staging extracts the parent package's ~2000 files, twice
// with the smoke test.
func BenchmarkExtensionVsHost(b *testing.B) {
	for _, x := range []struct {
		in   lock.Input
		ext  build.Extension
		args []string
	}{
		{pgSimilarity, build.Extension{Name: "pg_similarity", Version: "1.0",
			Settings: build.Settings{Regress: "advisory", RegressReason: "its expected output predates Postgres 12's float output"}}, nil},
		{pgvector, build.Extension{Name: "vector", Version: "0.8.0", Settings: build.Settings{Args: []string{"OPTFLAGS="}}}, []string{"OPTFLAGS="}},
	} {
		b.Run(x.ext.Name+"/store-tmp", func(b *testing.B) { benchExtensionVsHost(b, x.in, x.ext, x.args, "") })
		b.Run(x.ext.Name+"/tmpfs", func(b *testing.B) {
			if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
				b.Skip("no /dev/shm")
			}
			benchExtensionVsHost(b, x.in, x.ext, x.args, "/dev/shm")
		})
	}
}

func benchExtensionVsHost(b *testing.B, in lock.Input, ext build.Extension, makeArgs []string, scratchBase string) {
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
		addInput(b, st, in)
		c := build.ExtensionCell(ext.Name+"~"+ext.Version+"~"+p.Name, p, in, ext)
		cfg := build.Config{Store: st, Toolchain: tc, MakeJobs: 2}
		if scratchBase != "" {
			cfg.ScratchDir = mkdirTemp(b, scratchBase)
		}
		if _, err := build.Build(ctx, cfg, []build.Cell{p}); err != nil { // parent lookup outside the timing
			b.Fatal(err)
		}
		start := time.Now()
		r, err := build.Build(ctx, cfg, []build.Cell{p, c})
		if err != nil || r[1].State != event.StateBuilt {
			b.Fatalf("cold build: %v", err)
		}
		v.mono += time.Since(start)
		if log, err := os.ReadFile(r[1].Log); err == nil { // where the time goes
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, "inputs staged in") || strings.Contains(l, "built and installed") || strings.Contains(l, "took") {
					b.Log(l)
				}
			}
		}

		dir := b.TempDir()
		pg, src := filepath.Join(dir, "pg"), filepath.Join(dir, "src")
		if err := archive.Extract(ctx, st.Path(r[0].Package), pg, archive.Options{}); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := archive.Extract(ctx, st.Path(in.SHA256), src, archive.Options{StripPrefix: in.StripPrefix}); err != nil {
			b.Fatal(err)
		}
		for _, args := range [][]string{
			append([]string{"make", "-j2", "USE_PGXS=1", "PG_CONFIG=" + pg + "/bin/pg_config"}, makeArgs...),
			append([]string{"make", "USE_PGXS=1", "PG_CONFIG=" + pg + "/bin/pg_config", "install", "DESTDIR=" + filepath.Join(dir, "out")}, makeArgs...),
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

// mkdirTemp is a fresh directory below base, removed after b.
func mkdirTemp(b *testing.B, base string) string {
	dir, err := os.MkdirTemp(base, "monogres-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
