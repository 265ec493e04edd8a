package build_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// Real extension sources with what issue 13 asks of them, as Debian ships
// them (monogres.catalog.json).
var (
	pglogical = lock.Input{
		Name: "extension/pglogical/2.4.2", Kind: "extension", Version: "2.4.2",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pglogical/pglogical_2.4.2.orig.tar.gz"},
		SHA256:      "4dcd407948a76b524ed03da3d67c5d4e1cb80fdff8694642cfc261838bcb05e0",
		StripPrefix: "pglogical-REL2_4_2",
	}
	pgmemcache = lock.Input{
		Name: "extension/pgmemcache/2.3.0", Kind: "extension", Version: "2.3.0",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pgmemcache/pgmemcache_2.3.0.orig.tar.gz"},
		SHA256:      "7f9f545c02e13c842b20a1cb387e209ec0fb654ebb083828bcf08023ed6657e2",
		StripPrefix: "pgmemcache-2.3.0",
	}
)

// extensionSpec is the default layers plus one extension layer per entry
// of packages (extension name -> Debian packages), for amd64.
func extensionSpec(packages map[string][]string) toolchains.Spec {
	s := toolchains.DefaultSpec("amd64", "arm64")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range packages {
			if !yield(k) {
				return
			}
		}
	}) {
		s.Layers = append(s.Layers, toolchains.Layer{Name: toolchains.ExtensionLayer("amd64", name), Target: "amd64",
			Packages: packages[name], Base: toolchains.BaseLayer("amd64"), Optional: true})
	}
	return s
}

func readManifest(t *testing.T, path string) *build.Manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := build.DecodeManifest(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExtensionSettingsReal builds, against the real barebones 15.18 amd64
// package: pglogical 2.4.2 (CREATE EXTENSION needs
// shared_preload_libraries = pglogical; its libpq must be found through
// the relative RUNPATH, never /build/pg/lib), and pgmemcache 2.3.0 (needs
// libmemcached at run time) twice: recorded, and bundled. The smoke tests
// see only the libraries the packages record, so the bundled cell passes
// only if its lib/ copy loads. Packages record no sandbox path; the
// unbundled manifest names libmemcached's Debian package; a rebuild under
// Verify gives the same bytes.
func TestExtensionSettingsReal(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds extensions against a real Postgres package; not in -short")
	}
	ctx := context.Background()
	tc := buildtest.RealToolchainFor(t, testenv.CacheDir(t)+"/store", extensionSpec(map[string][]string{"pgmemcache": {"libmemcached-dev", "libsasl2-dev"}}))
	p := buildtest.Postgres1518("barebones", "amd64")
	st := postgresPackages(t, tc, []build.Cell{p})
	for _, in := range []lock.Input{pglogical, pgmemcache} {
		addInput(t, st, in)
	}
	logical := build.ExtensionCell("pglogical~2.4.2~"+p.Name, p, pglogical, build.Extension{Name: "pglogical", Version: "2.4.2",
		Settings: build.Settings{SharedPreloadLibraries: []string{"pglogical"}, Conf: []string{"wal_level = logical"},
			Regress: "advisory", RegressReason: "pglogical's suite needs a provider and a subscriber node (installcheck on one server)"}})
	memc := build.Extension{Name: "pgmemcache", Version: "2.3.0",
		Settings: build.Settings{Regress: "skip", RegressReason: "the suite needs a running memcached"}}
	recorded := build.ExtensionCell("pgmemcache~2.3.0~"+p.Name, p, pgmemcache, memc)
	memc.Bundle = true
	bundled := build.ExtensionCell("pgmemcache-bundled~2.3.0~"+p.Name, p, pgmemcache, memc)
	cells := []build.Cell{logical, recorded, bundled}
	cfg := build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 2, MakeJobs: 1, KeepGoing: true}
	start := time.Now()
	res, err := build.Build(ctx, cfg, append([]build.Cell{p}, cells...))
	t.Logf("cold build of %d extension cells: %v", len(cells), time.Since(start).Round(time.Millisecond))
	by := map[string]build.Result{}
	for _, r := range res {
		by[r.Cell] = r
		t.Logf("%s: %s in %v", r.Cell, r.State, r.Duration.Round(time.Millisecond))
	}
	if err != nil {
		t.Fatal(err)
	}
	lm := readManifest(t, by[logical.Name].ManifestPath)
	log, _ := os.ReadFile(by[logical.Name].Log)
	for _, want := range []string{"shared_preload_libraries = 'pglogical'", "CREATE EXTENSION pglogical CASCADE", "CREATE EXTENSION pglogical_origin CASCADE", "smoke test passed", "monogres: regression suite: "} {
		if !strings.Contains(string(log), want) {
			t.Errorf("pglogical log lacks %q", want)
		}
	}
	if lm.Regress == nil || len(lm.Regress.Passed)+len(lm.Regress.Failed) == 0 {
		t.Errorf("pglogical: no regression results in the manifest: %+v", lm.Regress)
	} else {
		t.Logf("pglogical regress: %d passed, %d failed (advisory)", len(lm.Regress.Passed), len(lm.Regress.Failed))
	}

	rm := readManifest(t, by[recorded.Name].ManifestPath)
	if !slices.ContainsFunc(rm.RuntimePackages, func(s string) bool { return strings.HasPrefix(s, "libmemcached11=") }) {
		t.Errorf("pgmemcache manifest runtime_packages %q lacks libmemcached11", rm.RuntimePackages)
	}
	j, _ := json.Marshal(rm.Runtime)
	t.Logf("pgmemcache runtime: %s", j)
	bm := readManifest(t, by[bundled.Name].ManifestPath)
	files := packageFiles(t, by[bundled.Name].PackagePath)
	if !slices.Contains(files, "lib/libmemcached.so.11") || slices.Contains(packageFiles(t, by[recorded.Name].PackagePath), "lib/libmemcached.so.11") {
		t.Errorf("bundled package %v; want lib/libmemcached.so.11 only in the bundled one", files)
	}
	if slices.ContainsFunc(bm.RuntimePackages, func(s string) bool { return strings.HasPrefix(s, "libmemcached11=") }) {
		t.Errorf("bundled manifest still needs libmemcached11 from the host: %q", bm.RuntimePackages)
	}
	blog, _ := os.ReadFile(by[bundled.Name].Log)
	if !strings.Contains(string(blog), "smoke test sees only the recorded libraries") || !strings.Contains(string(blog), "libmemcached.so.11 (lib/pgmemcache.so) from libmemcached11") {
		t.Errorf("bundled log does not show the reduced library view and the bundled library")
	}
	if t.Failed() {
		return
	}
	// Extracted on a host without libmemcached, as a user installs them:
	// the bundled package loads; the other fails for the library its
	// CELL.json names (runtime_packages, checked above).
	if ldconfig, _ := exec.Command("ldconfig", "-p").Output(); strings.Contains(string(ldconfig), "libmemcached.so.11") {
		t.Log("this host has libmemcached.so.11: the extracted-package check needs a host without it")
	} else {
		pg := by[p.Name].PackagePath
		runExtractedWith(t, pg, []string{by[bundled.Name].PackagePath}, p.PostgresVersion, func(x extracted) {
			x.Psql("CREATE EXTENSION pgmemcache")
		})
		runExtractedWith(t, pg, []string{by[recorded.Name].PackagePath}, p.PostgresVersion, func(x extracted) {
			out, err := x.TryPsql("CREATE EXTENSION pgmemcache")
			if err == nil || !strings.Contains(out, "libmemcached.so.11: cannot open shared object file") {
				t.Errorf("unbundled pgmemcache on a host without libmemcached: %v\n%s", err, out)
			}
		})
	}
	var nodes []build.Node
	nodes = append(nodes, build.Node{Cell: p})
	for _, c := range cells {
		nodes = append(nodes, build.Node{Cell: c, Verify: true})
	}
	vres, err := build.Run(ctx, cfg, nodes)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range vres[1:] {
		if r.State != event.StateVerified || r.Rebuilt != r.Package {
			t.Errorf("%s: verify %s, package %s rebuilt %s", r.Cell, r.State, r.Package, r.Rebuilt)
		}
	}
}
