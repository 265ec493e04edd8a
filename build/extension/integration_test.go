package extension_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/build/extension"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/plugins"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// recorder keeps the Finished events of a run.
type recorder struct {
	ch chan event.Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan event.Event, 10000)} }

func (r *recorder) Emit(e event.Event) {
	if e.Kind == event.Finished {
		r.ch <- e
	}
}

func (r *recorder) states(cell string) []event.State {
	var out []event.State
	for {
		select {
		case e := <-r.ch:
			if e.Item == cell {
				out = append(out, e.State)
			}
		default:
			return out
		}
	}
}

// packageFiles lists the regular files and symlinks of a .tar.zst package.
func packageFiles(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeDir {
			out = append(out, h.Name)
		}
	}
}

// TestExtensions builds real Debian-sourced extensions against the real
// barebones Postgres 15.18 cells of amd64 and arm64 (cross-compiled, smoke
// tested under qemu): pg_similarity 1.0 and numeral 1.3 with the built-in
// PGXS recipe, pg_rational 0.0.2 with a plugin compiled from source here
// (its Makefile does not install the 0.0.1--0.0.2 upgrade script its
// control file needs, so a plain PGXS build fails CREATE EXTENSION: that
// cell is in the same build and must fail its smoke test), and a hostile
// plugin that loops forever, which must fail only its own cell. Every
// package must pass CREATE EXTENSION in the smoke test, hold only the
// extension's files, be a cache hit on the second build (no sandbox) and
// be reproducible under Verify.
func TestExtensions(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds Postgres and extensions (minutes); not in -short")
	}
	ctx := context.Background()
	arches := []string{"amd64", "arm64"}
	if a := os.Getenv("MONOGRES_TEST_ARCHES"); a != "" {
		arches = strings.Split(a, ",")
	}
	tc := buildtest.RealToolchain(t, testenv.CacheDir(t)+"/store")
	var parents []build.Cell
	for _, a := range arches {
		parents = append(parents, postgresCell(a))
	}
	st := postgresPackages(t, tc, parents)
	addInput(t, st, pgSimilarity)
	addInput(t, st, numeral)
	addInput(t, st, pgRational)
	fix := buildPlugin(t, st, "../../plugins/examples/rationalfix")
	loop := buildPlugin(t, st, "./testdata/loop")

	var good, all []extension.Cell
	for _, p := range parents {
		suffix := "~" + p.Name
		good = append(good,
			extension.Cell{Name: "pg_similarity~1.0" + suffix, Extension: "pg_similarity", Version: "1.0", Source: pgSimilarity, Recipe: "pgxs", Parent: p,
				SmokeSQL: "SELECT round(jaro('monogres', 'monogress')::numeric, 2) > 0.9"},
			extension.Cell{Name: "numeral~1.3" + suffix, Extension: "numeral", Version: "1.3", Source: numeral, Recipe: "pgxs", Parent: p,
				SmokeSQL: "SELECT ('thirty'::numeral + 'twelve'::numeral)::text = 'forty-two'"},
			extension.Cell{Name: "pg_rational~0.0.2" + suffix, Extension: "pg_rational", Version: "0.0.2", Source: pgRational, Recipe: "plugin:rationalfix", Plugin: fix, Parent: p,
				SmokeSQL: "SELECT '1/3'::rational + '1/6'::rational = '1/2'::rational"},
		)
	}
	amd := parents[0]
	broken := extension.Cell{Name: "pg_rational-pgxs~0.0.2~" + amd.Name, Extension: "pg_rational", Version: "0.0.2", Source: pgRational, Recipe: "pgxs", Parent: amd}
	hostile := extension.Cell{Name: "hostile~1~" + amd.Name, Extension: "pg_rational", Version: "0.0.2", Source: pgRational, Recipe: "plugin:loop", Plugin: loop, Parent: amd}
	all = append(append(all, hostile, broken), good...)

	rec := newRecorder()
	cfg := extension.Config{
		Config: build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 2, MakeJobs: 2, KeepGoing: true, Sink: rec},
		Plugin: plugins.Options{Timeout: 3 * time.Second},
	}
	start := time.Now()
	res, err := extension.Build(ctx, cfg, all)
	t.Logf("first build of %d extension cells: %v", len(all), time.Since(start).Round(time.Millisecond))
	if err == nil {
		t.Fatal("build with a hostile plugin and a broken recipe succeeded")
	}
	byName := map[string]build.Result{}
	for _, r := range res {
		byName[r.Cell] = r
		t.Logf("%s: %s in %v %s", r.Cell, r.State, r.Duration.Round(time.Millisecond), r.Package)
	}
	// The hostile plugin fails its own cell, at the deadline, clearly.
	if r := byName[hostile.Name]; r.State != event.StateFailed || r.Err == nil ||
		!strings.Contains(r.Err.Error(), "plugin loop: stopped: it did not finish within 3s") || !strings.Contains(r.Err.Error(), hostile.Name) {
		t.Errorf("hostile cell: state %s, err %v; want failed naming the cell and the deadline", r.State, r.Err)
	}
	// pg_rational without its plugin builds but cannot be created.
	if r := byName[broken.Name]; r.State != event.StateFailed || r.Err == nil ||
		!strings.Contains(r.Err.Error(), "smoke test") || !strings.Contains(r.Err.Error(), `extension "pg_rational" has no installation script nor update path for version "0.0.2"`) {
		t.Errorf("pg_rational with plain PGXS: state %s, err %v; want a failed smoke test: no installation script for 0.0.2", r.State, r.Err)
	}
	for _, c := range good {
		r := byName[c.Name]
		if r.State != event.StateBuilt {
			t.Errorf("%s: state %s, want built: %v", c.Name, r.State, r.Err)
			continue
		}
		files := packageFiles(t, r.PackagePath)
		so := "lib/" + c.Extension + ".so"
		control := "share/extension/" + c.Extension + ".control"
		if !slices.Contains(files, so) || !slices.Contains(files, control) {
			t.Errorf("%s: package has %v, want %s and %s", c.Name, files, so, control)
		}
		for _, f := range files {
			if !strings.HasPrefix(f, "lib/") && !strings.HasPrefix(f, "share/") {
				t.Errorf("%s: package has %s, which is not the extension's", c.Name, f)
			}
			if strings.HasPrefix(f, "bin/") || f == "lib/plpgsql.so" {
				t.Errorf("%s: package has Postgres file %s", c.Name, f)
			}
		}
		if c.Extension == "pg_rational" && !slices.Contains(files, "share/extension/pg_rational--0.0.1--0.0.2.sql") {
			t.Errorf("%s: the plugin's patch did not install the upgrade script: %v", c.Name, files)
		}
		log, err := os.ReadFile(r.Log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "smoke test passed") || !strings.Contains(string(log), "CREATE EXTENSION "+c.Extension) {
			t.Errorf("%s: log %s shows no passing CREATE EXTENSION smoke test", c.Name, r.Log)
		}
	}
	if t.Failed() {
		return
	}

	// A second build is a cache hit without a sandbox.
	rec2 := newRecorder()
	cfg.Sink = rec2
	start = time.Now()
	again, err := extension.Build(ctx, cfg, good)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build of %d extension cells: %v", len(good), time.Since(start).Round(time.Millisecond))
	for i, r := range again {
		if r.State != event.StateCached || r.Package != byName[good[i].Name].Package {
			t.Errorf("%s: second build %s %s, want cached %s", r.Cell, r.State, r.Package, byName[good[i].Name].Package)
		}
		if s := rec2.states(r.Cell); slices.Contains(s, event.StateRunning) {
			t.Errorf("%s: second build ran the build (states %v)", r.Cell, s)
		}
	}

	// Verify rebuilds bypassing the cache and gets the same bytes.
	start = time.Now()
	vres, err := extension.Verify(ctx, cfg, good)
	t.Logf("verify of %d extension cells: %v", len(good), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range vres {
		if r.State != event.StateVerified || r.Rebuilt != r.Package {
			t.Errorf("%s: verify %s, package %s rebuilt %s", r.Cell, r.State, r.Package, r.Rebuilt)
		}
	}
}

// BenchmarkExtension reports a cold build of pg_similarity 1.0 against the
// (cached) barebones amd64 Postgres package, smoke test included (cold-s),
// and the no-op build that finds it in the action cache (ns/op).
func BenchmarkExtension(b *testing.B) {
	testenv.RequireRoot(b, "namespaces, real toolchain roots")
	ctx := context.Background()
	tc := buildtest.RealToolchain(b, testenv.CacheDir(b)+"/store")
	p := postgresCell("amd64")
	st := postgresPackages(b, tc, []build.Cell{p})
	addInput(b, st, pgSimilarity)
	c := extension.Cell{Name: "pg_similarity~1.0~" + p.Name, Extension: "pg_similarity", Version: "1.0", Source: pgSimilarity, Recipe: "pgxs", Parent: p}
	cfg := extension.Config{Config: build.Config{Store: st, Toolchain: tc, MakeJobs: 2}}
	start := time.Now()
	if r, err := extension.Build(ctx, cfg, []extension.Cell{c}); err != nil || r[0].State != event.StateBuilt {
		b.Fatalf("cold build: %v", err)
	}
	cold := time.Since(start)
	for b.Loop() {
		r, err := extension.Build(ctx, cfg, []extension.Cell{c})
		if err != nil || r[0].State != event.StateCached {
			b.Fatalf("cached build: %v", err)
		}
	}
	b.ReportMetric(cold.Seconds(), "cold-s")
}
