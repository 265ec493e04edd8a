package build_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/toolchains"
)

// TestMatrix builds the rest of the 15.18 matrix: with MONOGRES_FULL_MATRIX=1
// minimal, regular, full and debug for amd64 and regular for arm64; or the
// cells named in MONOGRES_TEST_CELLS ("regular~amd64,barebones~arm64").
// Each must build, pass the smoke test and package correctly; with
// MONOGRES_TEST_VERIFY=1 each is then verified (rebuilt and compared).
func TestMatrix(t *testing.T) {
	var names []string
	switch {
	case os.Getenv("MONOGRES_TEST_CELLS") != "":
		names = strings.Split(os.Getenv("MONOGRES_TEST_CELLS"), ",")
	case os.Getenv("MONOGRES_FULL_MATRIX") == "1":
		names = []string{"minimal~amd64", "regular~amd64", "full~amd64", "debug~amd64", "regular~arm64"}
	default:
		t.Skip("set MONOGRES_FULL_MATRIX=1 (or MONOGRES_TEST_CELLS) to build the whole 15.18 matrix (about an hour)")
	}
	requireBuilds(t)
	cfg, _ := newConfig(t)
	cfg.KeepGoing = true
	var cells []build.Cell
	for _, n := range names {
		set, arch, ok := strings.Cut(strings.TrimSpace(n), "~")
		if _, known := optionSets[set]; !ok || !known {
			t.Fatalf("MONOGRES_TEST_CELLS: %q is not SET~ARCH", n)
		}
		cells = append(cells, cell15(set, arch))
	}
	for _, c := range cells { // compose roots first: durations below are the engine's
		if _, err := cfg.Toolchain(context.Background(), toolchains.Cell{Target: c.Arch, Options: c.Options}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := build.Build(context.Background(), cfg, cells)
	for i, r := range res {
		t.Logf("%s: %s in %v (options %v)", r.Cell, r.State, r.Duration.Round(time.Second), cells[i].Options)
		if r.State == event.StateBuilt {
			checkPackage(t, cfg, cells[i], r)
			if cells[i].Arch == "amd64" {
				runExtracted(t, r.PackagePath, cells[i].PostgresVersion)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MONOGRES_TEST_VERIFY") != "1" {
		return
	}
	vres, err := build.Verify(context.Background(), cfg, cells)
	for _, r := range vres {
		t.Logf("verify %s: %s in %v: package %s rebuilt %s", r.Cell, r.State, r.Duration.Round(time.Second), r.Package, r.Rebuilt)
		if r.State != event.StateVerified || r.Rebuilt != r.Package {
			t.Errorf("%s: not verified", r.Cell)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}
