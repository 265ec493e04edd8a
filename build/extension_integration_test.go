package build_test

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
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/plugins"
)

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
		parents = append(parents, barebones1518(a))
	}
	st := postgresPackages(t, tc, parents)
	addInput(t, st, pgSimilarity)
	addInput(t, st, numeral)
	addInput(t, st, pgRational)
	fix := buildPlugin(t, st, "../plugins/examples/rationalfix")
	loop := buildPlugin(t, st, "./testdata/plugins/loop")

	var good, all []build.Cell
	for _, p := range parents {
		suffix := "~" + p.Name
		good = append(good,
			build.ExtensionCell("pg_similarity~1.0"+suffix, p, pgSimilarity, build.Extension{Name: "pg_similarity", Version: "1.0",
				Settings: build.Settings{Regress: "advisory", RegressReason: "its expected output predates Postgres 12's shortest-exact float output",
					SmokeSQL: []string{"CREATE EXTENSION pg_similarity", "SELECT round(jaro('monogres', 'monogress')::numeric, 2) > 0.9"}}}),
			build.ExtensionCell("numeral~1.3"+suffix, p, numeral, build.Extension{Name: "numeral", Version: "1.3",
				Settings: build.Settings{SmokeSQL: []string{"CREATE EXTENSION numeral", "SELECT ('thirty'::numeral + 'twelve'::numeral)::text = 'forty-two'"}}}),
			build.ExtensionCell("pg_rational~0.0.2"+suffix, p, pgRational, build.Extension{Name: "pg_rational", Version: "0.0.2",
				Settings: build.Settings{SmokeSQL: []string{"CREATE EXTENSION pg_rational", "SELECT '1/3'::rational + '1/6'::rational = '1/2'::rational"}}}).WithRecipe("plugin:rationalfix", fix),
		)
	}
	amd := parents[0]
	broken := build.ExtensionCell("pg_rational-pgxs~0.0.2~"+amd.Name, amd, pgRational, build.Extension{Name: "pg_rational", Version: "0.0.2"})
	hostile := build.ExtensionCell("hostile~1~"+amd.Name, amd, pgRational, build.Extension{Name: "pg_rational", Version: "0.0.2"}).WithRecipe("plugin:loop", loop)
	all = append(append(all, hostile, broken), good...)

	cfg := build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 2, MakeJobs: 2, KeepGoing: true,
		Plugin: plugins.Options{Timeout: 3 * time.Second}}
	start := time.Now()
	res, err := build.Build(ctx, cfg, append(slices.Clone(parents), all...))
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
		so := "lib/" + c.Extension.Name + ".so"
		control := "share/extension/" + c.Extension.Name + ".control"
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
		if c.Extension.Name == "pg_rational" && !slices.Contains(files, "share/extension/pg_rational--0.0.1--0.0.2.sql") {
			t.Errorf("%s: the plugin's patch did not install the upgrade script: %v", c.Name, files)
		}
		log, err := os.ReadFile(r.Log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "smoke test passed") || !strings.Contains(string(log), "CREATE EXTENSION "+c.Extension.Name) {
			t.Errorf("%s: log %s shows no passing CREATE EXTENSION smoke test", c.Name, r.Log)
		}
	}
	if t.Failed() {
		return
	}

	// A second build is a cache hit without a sandbox.
	rec := &recorder{}
	cfg.Sink = rec
	start = time.Now()
	again, err := build.Build(ctx, cfg, append(slices.Clone(parents), good...))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build of %d extension cells: %v", len(good), time.Since(start).Round(time.Millisecond))
	for _, r := range again {
		if r.State != event.StateCached || r.Package != byName[r.Cell].Package {
			t.Errorf("%s: second build %s %s, want cached %s", r.Cell, r.State, r.Package, byName[r.Cell].Package)
		}
		if rec.started(r.Cell) {
			t.Errorf("%s: second build ran the build", r.Cell)
		}
	}

	// Verify rebuilds bypassing the cache and gets the same bytes.
	start = time.Now()
	var nodes []build.Node
	for _, p := range parents {
		nodes = append(nodes, build.Node{Cell: p}) // inputs here, verified as Postgres cells elsewhere
	}
	for _, c := range good {
		nodes = append(nodes, build.Node{Cell: c, Verify: true})
	}
	vres, err := build.Run(ctx, cfg, nodes)
	t.Logf("verify of %d extension cells: %v", len(good), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range vres[len(parents):] {
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
	p := barebones1518("amd64")
	st := postgresPackages(b, tc, []build.Cell{p})
	addInput(b, st, pgSimilarity)
	c := build.ExtensionCell("pg_similarity~1.0~"+p.Name, p, pgSimilarity, build.Extension{Name: "pg_similarity", Version: "1.0"})
	cfg := build.Config{Store: st, Toolchain: tc, MakeJobs: 2}
	start := time.Now()
	if r, err := build.Build(ctx, cfg, []build.Cell{p, c}); err != nil || r[1].State != event.StateBuilt {
		b.Fatalf("cold build: %v", err)
	}
	cold := time.Since(start)
	for b.Loop() {
		r, err := build.Build(ctx, cfg, []build.Cell{p, c})
		if err != nil || r[1].State != event.StateCached {
			b.Fatalf("cached build: %v", err)
		}
	}
	b.ReportMetric(cold.Seconds(), "cold-s")
}
