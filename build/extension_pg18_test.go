package build_test

import (
	"context"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
)

// TestExtensionOnPostgres18 builds numeral 1.3 with PGXS against the meson
// build postgres~18.6~barebones~amd64 (built once per test cache, as
// build's TestPostgres18 builds it), passes its smoke test, and verifies
// it rebuilds bit for bit.
func TestExtensionOnPostgres18(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds Postgres 18.6 and an extension (minutes); not in -short")
	}
	ctx := context.Background()
	tc := buildtest.RealToolchain(t, testenv.CacheDir(t)+"/store")
	p := build.Cell{Name: "postgres~18.6~barebones~amd64", PostgresVersion: "18.6", Major: 18, OptionSet: "barebones", Arch: "amd64", Source: testenv.PG186}
	st := postgresPackages(t, tc, []build.Cell{p})
	addInput(t, st, numeral)
	c := build.ExtensionCell("numeral~1.3~"+p.Name, p, numeral, build.Extension{Name: "numeral", Version: "1.3",
		Settings: build.Settings{SmokeSQL: []string{"CREATE EXTENSION numeral", "SELECT ('thirty'::numeral + 'twelve'::numeral)::text = 'forty-two'"}}})
	cfg := build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 1, MakeJobs: 2}
	res, err := build.Build(ctx, cfg, []build.Cell{p, c})
	if err != nil {
		t.Fatal(err)
	}
	res = res[1:]
	if r := res[0]; r.State != event.StateBuilt {
		t.Fatalf("%s: state %s, want built", r.Cell, r.State)
	}
	t.Logf("%s: built in %v", res[0].Cell, res[0].Duration.Round(time.Second))
	vres, err := build.Run(ctx, cfg, []build.Node{{Cell: p}, {Cell: c, Verify: true}})
	if err != nil {
		t.Fatal(err)
	}
	if v := vres[1]; v.State != event.StateVerified || v.Rebuilt != res[0].Package {
		t.Errorf("%s: verify state %s, package %s rebuilt %s", v.Cell, v.State, res[0].Package, v.Rebuilt)
	}
}
