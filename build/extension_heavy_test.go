package build_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
)

var (
	timescaledb = lock.Input{
		Name: "extension/timescaledb/2.19.3+dfsg", Kind: "extension", Version: "2.19.3+dfsg",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/t/timescaledb/timescaledb_2.19.3+dfsg.orig.tar.xz"},
		SHA256:      "09fd11191768c220b071f61a108df9bd1df5522fbe4e7c2229f30f69b195454a",
		StripPrefix: "timescaledb-2.19.3",
	}
	postgis = lock.Input{
		Name: "extension/postgis/3.3.2+dfsg", Kind: "extension", Version: "3.3.2+dfsg",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/postgis/postgis_3.3.2+dfsg.orig.tar.xz"},
		SHA256:      "8148f519d14a216493f87b7773c7e3893d2cc10550f5670e87ef50f506c6866c",
		StripPrefix: "postgis-3.3.2",
	}
)

// TestExtensionKindsHeavy builds the CMake and configure+PGXS kinds on
// real, large extensions against the barebones 15.18 amd64 package:
// TimescaleDB 2.19.3 (CMake; CREATE EXTENSION needs
// shared_preload_libraries) and PostGIS 3.3.2 (./configure, then PGXS;
// needs GEOS, PROJ, libxml2 and json-c at run time, which the manifest
// must record and the reduced smoke view must find). About 3 minutes cold
// on 2 cores, so not in -short; CI runs it (one cell per build kind).
// MONOGRES_E2E_HEAVY=nots or =nogis leaves one of them out.
func TestExtensionKindsHeavy(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds TimescaleDB and PostGIS (minutes); not in -short")
	}
	ctx := context.Background()
	tc := buildtest.RealToolchainFor(t, testenv.CacheDir(t)+"/store", extensionSpec(map[string][]string{
		"timescaledb": {"cmake"},
		"postgis":     {"libgeos-dev", "libproj-dev", "libxml2-dev", "libjson-c-dev", "libpcre2-dev", "pkg-config"},
	}))
	p := buildtest.Postgres1518("barebones", "amd64")
	st := postgresPackages(t, tc, []build.Cell{p})
	addInput(t, st, timescaledb)
	addInput(t, st, postgis)
	var cells []build.Cell
	if !strings.Contains(os.Getenv("MONOGRES_E2E_HEAVY"), "nots") {
		cells = append(cells, build.ExtensionCell("timescaledb~2.19.3+dfsg~"+p.Name, p, timescaledb, build.Extension{Name: "timescaledb", Version: "2.19.3+dfsg",
			Settings: build.Settings{SharedPreloadLibraries: []string{"timescaledb"}, Regress: "skip", RegressReason: "TimescaleDB's suite runs through its own CMake test runner",
				Args: []string{"-DREGRESS_CHECKS=OFF", "-DTAP_CHECKS=OFF", "-DWARNINGS_AS_ERRORS=OFF", "-DUSE_OPENSSL=OFF", "-DSEND_TELEMETRY_DEFAULT=OFF", "-DGENERATE_DOWNGRADE_SCRIPT=OFF", "-DAPACHE_ONLY=ON"}}}).WithRecipe("cmake", lock.Input{}))
	}
	if !strings.Contains(os.Getenv("MONOGRES_E2E_HEAVY"), "nogis") {
		cells = append(cells, build.ExtensionCell("postgis~3.3.2+dfsg~"+p.Name, p, postgis, build.Extension{Name: "postgis", Version: "3.3.2+dfsg",
			Settings: build.Settings{SmokeSQL: []string{"CREATE EXTENSION postgis", "SELECT ST_AsText(ST_Buffer(ST_GeomFromText('POINT(0 0)'), 1, 2)) LIKE 'POLYGON((1 0,%'"},
				// No NLS (the root has no msgfmt; with it, shp2pgsql records pg_config's
				// /build/pg/share/locale); the loader programs install into the
				// Postgres tree, not configure's /usr/local, as the catalog's override.
				Args: []string{"--without-gettext", "--prefix=/build/pg", "--without-raster", "--without-protobuf", "--without-sfcgal", "--without-gui", "--without-address-standardizer"}}}).WithRecipe("configure", lock.Input{}))
	}
	cfg := build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 1, MakeJobs: 2, KeepGoing: true}
	start := time.Now()
	res, err := build.Build(ctx, cfg, append([]build.Cell{p}, cells...))
	t.Logf("cold build of %d cells: %v", len(cells), time.Since(start).Round(time.Second))
	for _, r := range res[1:] {
		t.Logf("%s: %s in %v", r.Cell, r.State, r.Duration.Round(time.Second))
		if r.State != event.StateBuilt {
			t.Errorf("%s: %v", r.Cell, r.Err)
			continue
		}
		m := readManifest(t, r.ManifestPath)
		t.Logf("%s: runtime_packages %q", r.Cell, m.RuntimePackages)
		if strings.HasPrefix(r.Cell, "postgis") && !slices.ContainsFunc(m.RuntimePackages, func(s string) bool { return strings.HasPrefix(s, "libgeos-c1v5=") }) {
			t.Errorf("postgis records no libgeos-c1v5: %q", m.RuntimePackages)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}
