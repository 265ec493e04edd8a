// Package buildtest gives build and extension tests real toolchain roots:
// the default roots composed from bookworm packages, cached in a store, the
// way `monogres build` composes them from the lock. Only tests import it.
package buildtest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/toolchains"
)

// bookworm fetches the real bookworm main index for amd64 and arm64 once
// per test binary.
var bookworm = sync.OnceValues(func() (*toolchains.Index, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return toolchains.FetchIndex(ctx, nil, toolchains.Source{BaseURL: toolchains.DefaultBaseURL, Suite: toolchains.DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64", "arm64"}})
})

// RealToolchain composes (or finds cached in storeDir) the root of each
// cell from real bookworm packages, downloaded once into the test cache:
// the default layers (toolchains.DefaultSpec), resolved the way `monogres
// lock` resolves the repository's manifest, so both share roots and
// action keys.
func RealToolchain(t testing.TB, storeDir string) build.ToolchainFunc {
	return RealToolchainFor(t, storeDir, toolchains.DefaultSpec("amd64", "arm64"))
}

// RealToolchainFor is RealToolchain over the layers of spec (a manifest's,
// for extensions with packages: toolchains.ManifestSpec).
func RealToolchainFor(t testing.TB, storeDir string, spec toolchains.Spec) build.ToolchainFunc {
	debs := filepath.Join(testenv.CacheDir(t), "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var resolved *toolchains.Resolved
	return func(ctx context.Context, c toolchains.Cell) (build.Toolchain, error) {
		mu.Lock()
		defer mu.Unlock()
		if resolved == nil {
			idx, err := bookworm()
			if err != nil {
				return build.Toolchain{}, err
			}
			if resolved, err = toolchains.ResolveSpec(idx, spec, nil); err != nil {
				return build.Toolchain{}, err
			}
		}
		req, err := resolved.Request(c)
		if err != nil {
			return build.Toolchain{}, err
		}
		files := make([]testenv.File, len(req.Packages))
		for i, p := range req.Packages {
			files[i] = testenv.File{URL: p.URL, SHA256: p.SHA256, Dst: filepath.Join(debs, p.SHA256+".deb")}
		}
		if err := testenv.DownloadAll(ctx, files); err != nil {
			return build.Toolchain{}, err
		}
		open := func(_ context.Context, p toolchains.Package) (io.ReadCloser, error) {
			return os.Open(filepath.Join(debs, p.SHA256+".deb"))
		}
		r, err := toolchains.ComposeCached(ctx, storeDir, req.Packages, open, toolchains.DefaultOptions)
		if err != nil {
			return build.Toolchain{}, err
		}
		return build.Toolchain{Dir: r.Dir, Digest: r.Digest, Packages: toolchains.Names(req.Packages)}, nil
	}
}

// defaultResolved is the default layers resolved against bookworm, once
// per test binary.
var defaultResolved = sync.OnceValues(func() (*toolchains.Resolved, error) {
	idx, err := bookworm()
	if err != nil {
		return nil, err
	}
	return toolchains.ResolveSpec(idx, toolchains.DefaultSpec("amd64", "arm64"), nil)
})

// RealPackages are the packages of the default root of cell c (what
// RealToolchain composes for it); their .debs are at DebPath once
// RealToolchain has composed the root.
func RealPackages(t testing.TB, c toolchains.Cell) []toolchains.Package {
	t.Helper()
	r, err := defaultResolved()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := r.Packages(c)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// DebPath is where the test cache keeps the .deb of p.
func DebPath(t testing.TB, p toolchains.Package) string {
	return filepath.Join(testenv.CacheDir(t), "debs", p.SHA256+".deb")
}

// SharedPostgres builds 15.18 Postgres cells in the shared test store
// ($MONOGRES_TEST_CACHE/store), where the extension tests build their
// parents: the first test of a run builds them, every later one finds
// them in the action cache. The packages are published into out.
func SharedPostgres(t testing.TB, out string, cells ...build.Cell) []build.Result {
	t.Helper()
	st, err := store.Open(filepath.Join(testenv.CacheDir(t), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Has(testenv.PG1518.SHA256) {
		local := filepath.Join(testenv.CacheDir(t), "src", "postgresql-15_15.18.orig.tar.bz2")
		if err := testenv.Download(context.Background(), testenv.PG1518.URLs[0], testenv.PG1518.SHA256, local); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.AddFile(context.Background(), local); err != nil {
			t.Fatal(err)
		}
	}
	res, err := build.Build(context.Background(), build.Config{Store: st, Toolchain: RealToolchain(t, st.Dir()), OutDir: out, Jobs: 1, MakeJobs: 2}, cells)
	if err != nil {
		t.Fatalf("building %d Postgres cells in the shared test store: %v", len(cells), err)
	}
	return res
}

// Postgres1518 is the 15.18 cell of an option set on arch, with the
// options the set asks for (every one of them is supported by 15.18 on
// amd64), named as the CLI names it. Tests that build their parents in the
// shared test store use it, so they find one another's cells.
func Postgres1518(set, arch string) build.Cell {
	var opts []string
	for _, o := range manifest.SetOptions(manifest.OptionSet(set)) {
		opts = append(opts, string(o))
	}
	return build.Cell{
		Name: "postgres~15.18~" + set + "~" + arch, PostgresVersion: "15.18", Major: 15,
		OptionSet: set, Options: opts, Arch: arch, Source: testenv.PG1518,
	}
}
