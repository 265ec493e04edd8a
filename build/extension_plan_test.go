package build_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/toolchains"
)

// writeTarGz writes files (name -> content) as a .tar.gz below dir/prefix.
func writeTarGz(t testing.TB, prefix string, files map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), prefix+".tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + "/" + name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	return p
}

// TestPlanFailuresAreCellFailures runs the planning half of extension
// builds (no sandbox, no root): the parent Postgres cell is a cache hit
// seeded into the store, so nothing is built. A plan asking for a package
// that is not in the lock, a source tree without a Makefile under the
// PGXS recipe and a plugin that loops each fail their own cell with a
// message naming the cause, and with KeepGoing each cell is tried.
func TestPlanFailuresAreCellFailures(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(path string) lock.Input {
		sha, size, err := st.AddFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return lock.Input{SHA256: sha, Size: size}
	}
	tc := func(ctx context.Context, c toolchains.Cell) (build.Toolchain, error) {
		return build.Toolchain{Dir: t.TempDir(), Digest: "root-" + c.Target}, nil
	}
	// The parent: a fake source and a fake package recorded under the
	// parent's real action key.
	pgSrc := put(writeTarGz(t, "postgresql-15.18", map[string]string{"README": "x"}))
	pgSrc.Name, pgSrc.StripPrefix, pgSrc.SourceDateEpoch = "postgres/15.18", "postgresql-15.18", 1700000000
	parent := build.Cell{Name: "postgres~15.18~barebones~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: "amd64", Source: pgSrc}
	a, err := build.NewAction(parent, "root-amd64", pgSrc.SourceDateEpoch)
	if err != nil {
		t.Fatal(err)
	}
	pkg := put(writeTarGz(t, "pkg", map[string]string{"bin/postgres": "x"}))
	if err := build.Record(st, build.ACEntry{Cell: parent.Name, ActionKey: a.Key(), Package: pkg.SHA256, Manifest: pkg.SHA256}); err != nil {
		t.Fatal(err)
	}

	withMakefile := put(writeTarGz(t, "demo-1.0", map[string]string{"Makefile": "EXTENSION = demo\n", "demo.control": "default_version = '1.0'\n"}))
	withMakefile.Name, withMakefile.StripPrefix = "extension/demo/1.0", "demo-1.0"
	noMakefile := put(writeTarGz(t, "bare-1.0", map[string]string{"configure": "#!/bin/sh\n"}))
	noMakefile.Name, noMakefile.StripPrefix = "extension/bare/1.0", "bare-1.0"

	extra := buildPlugin(t, st, "./testdata/plugins/extra")
	loop := buildPlugin(t, st, "./testdata/plugins/loop")
	cells := []build.Cell{
		parent,
		build.ExtensionCell("extra~1.0~"+parent.Name, parent, withMakefile, build.Extension{Name: "demo", Version: "1.0",
			Params: map[string]string{"package": "libgeos-dev"}}).WithRecipe("plugin:extra", extra),
		build.ExtensionCell("bare~1.0~"+parent.Name, parent, noMakefile, build.Extension{Name: "bare", Version: "1.0"}),
		build.ExtensionCell("loop~1.0~"+parent.Name, parent, withMakefile, build.Extension{Name: "demo", Version: "1.0"}).WithRecipe("plugin:loop", loop),
	}
	cfg := build.Config{
		Store: st, Toolchain: tc, KeepGoing: true, Jobs: 1,
		Plugin:        plugins.Options{Timeout: time.Second},
		LockedPackage: func(arch, name string) bool { return arch == "amd64" && name == "libssl-dev" },
	}
	res, err := build.Build(ctx, cfg, cells)
	if err == nil {
		t.Fatal("no error")
	}
	if res[0].State != event.StateCached {
		t.Errorf("parent: %s, want cached: %v", res[0].State, res[0].Err)
	}
	res = res[1:]
	want := []string{
		`build: cell extra~1.0~postgres~15.18~barebones~amd64: recipe plugin:extra returned an unusable plan: extra_packages[0]: "libgeos-dev" is not in the lock`,
		"build: cell bare~1.0~postgres~15.18~barebones~amd64: recipe pgxs: pgxs recipe for bare 1.0: no Makefile at the root of the source tree",
		"build: cell loop~1.0~postgres~15.18~barebones~amd64: recipe plugin:loop: plugin loop: stopped: it did not finish within 1s",
	}
	for i, r := range res {
		if r.State != event.StateFailed || r.Err == nil || !strings.Contains(r.Err.Error(), want[i]) {
			t.Errorf("%s: state %s, err %v\nwant an error containing %q", r.Cell, r.State, r.Err, want[i])
		}
	}

	// An unknown build recipe is refused before anything runs.
	cells[1] = cells[1].WithRecipe("meson", lock.Input{})
	res, _ = build.Build(ctx, cfg, cells[:2])
	if r := res[1]; r.Err == nil || !strings.Contains(r.Err.Error(), `build = "meson": extension cells build with "pgxs", "configure", "cmake", "make" or "plugin:NAME"`) {
		t.Errorf("unknown recipe: %v", r.Err)
	}
}
