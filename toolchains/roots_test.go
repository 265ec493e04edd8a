package toolchains_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

var bookworm = sync.OnceValues(func() (*toolchains.Index, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return toolchains.FetchIndex(ctx, nil, toolchains.Source{BaseURL: toolchains.DefaultBaseURL, Suite: toolchains.DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64", "arm64"}})
})

// lockFor resolves m's layers (keeping old's unchanged ones) into a lock,
// encoded and decoded again as `monogres lock` writes it.
func lockFor(t *testing.T, m *manifest.Manifest, old *lock.Lock) *lock.Lock {
	t.Helper()
	idx, err := bookworm()
	if err != nil {
		t.Fatal(err)
	}
	spec := toolchains.ManifestSpec(m)
	res, err := toolchains.ResolveSpec(idx, spec, toolchains.KeepFrom(old))
	if err != nil {
		t.Fatal(err)
	}
	inputs, roots, err := res.LockEntries(spec, idx)
	if err != nil {
		t.Fatal(err)
	}
	l := &lock.Lock{Version: lock.FormatVersion, Manifest: m.Digest(), Inputs: append(inputs, testenv.PG1518), Roots: roots}
	l.Sort()
	b, err := lock.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = lock.Decode("monogres.lock", b); err != nil {
		t.Fatal(err)
	}
	return l
}

// debs downloads pkgs into the test cache and opens them from there.
func debs(t *testing.T, pkgs []toolchains.Package) toolchains.Opener {
	t.Helper()
	dir := filepath.Join(testenv.CacheDir(t), "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := make([]testenv.File, len(pkgs))
	for i, p := range pkgs {
		files[i] = testenv.File{URL: p.URL, SHA256: p.SHA256, Dst: filepath.Join(dir, p.SHA256+".deb")}
	}
	if err := testenv.DownloadAll(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, p toolchains.Package) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, p.SHA256+".deb"))
	}
}

// actionKeys composes the root of every Postgres 15.18 cell the manifest
// builds by default (in store) and returns each cell's action key.
func actionKeys(t *testing.T, m *manifest.Manifest, l *lock.Lock, store string) map[string]string {
	t.Helper()
	roots := toolchains.FromLock(l)
	keys := map[string]string{}
	pgs := []plan.Postgres{{Version: manifest.MustVersion("15.18"), Input: "postgres/15.18"}}
	err := plan.Each(m, pgs, func(c *plan.Cell) error {
		if c.Extension != "" || !plan.Match(m.Default, c.Name) {
			return nil
		}
		bc := build.Cell{Name: c.Name, PostgresVersion: "15.18", Major: 15, OptionSet: string(c.OptionSet), Arch: string(c.Arch), Source: testenv.PG1518}
		rc := toolchains.Cell{Target: string(c.Arch)}
		for _, o := range c.Options {
			bc.Options = append(bc.Options, string(o))
			rc.Options = append(rc.Options, string(o))
		}
		req, err := roots.Request(rc)
		if err != nil {
			return err
		}
		r, err := toolchains.ComposeCached(context.Background(), store, req.Packages, debs(t, req.Packages), toolchains.DefaultOptions)
		if err != nil {
			return err
		}
		a, err := build.NewAction(bc, r.Digest, 1700000000)
		if err != nil {
			return err
		}
		keys[c.Name] = a.Key()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func repoManifest(t *testing.T, extra string) *manifest.Manifest {
	t.Helper()
	b, err := os.ReadFile("../monogres.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse("../monogres.toml", append(b, extra...)) // the catalog beside it is read too
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Adding an extension with packages (for all targets and per target) to
// the repository's manifest changes no Postgres cell's root or action key:
// its packages go into its own cells' roots only. (Before per-cell roots,
// every extension's packages joined the one shared root.)
func TestAddingExtensionKeepsPostgresActionKeys(t *testing.T) {
	testenv.RequireRoot(t, "real toolchain roots")
	if testing.Short() {
		t.Skip("composes the default cells' real roots")
	}
	m1 := repoManifest(t, "")
	l1 := lockFor(t, m1, nil)
	m2 := repoManifest(t, `
[[extension]]
name = "added"
versions = ["1.0"]
build = "pgxs"
packages = ["gperf"]
[extension.target.amd64]
packages = ["libgeos-dev"]
[extension.target.arm64]
packages = ["libgeos-dev:arm64"]
[[extension.source]]
urls = ["https://example.invalid/added-{version}.tar.gz"]
`)
	l2 := lockFor(t, m2, l1)
	store := filepath.Join(testenv.CacheDir(t), "store")
	k1, k2 := actionKeys(t, m1, l1, store), actionKeys(t, m2, l2, store)
	if len(k1) < 7 {
		t.Fatalf("only %d default Postgres cells: %v", len(k1), k1)
	}
	for cell, k := range k1 {
		if k2[cell] != k {
			t.Errorf("%s: action key %s before adding the extension, %s after", cell, k, k2[cell])
		}
	}
	// The extension's cells do get its packages, per target.
	for _, target := range []string{"amd64", "arm64"} {
		got, err := toolchains.FromLock(l2).Packages(toolchains.Cell{Target: target, Extension: "added"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(got, func(p toolchains.Package) bool { return p.Name == "libgeos-dev" && p.Arch == target }) {
			t.Errorf("%s root of the added extension lacks libgeos-dev:%s", target, target)
		}
		if !slices.ContainsFunc(got, func(p toolchains.Package) bool { return p.Name == "gperf" && p.Arch == "amd64" }) {
			t.Errorf("%s root of the added extension lacks gperf (packages for every target)", target)
		}
		// A cell of an extension that requires it gets its packages too:
		// the smoke test loads the required extension's libraries.
		req, err := toolchains.FromLock(l2).Packages(toolchains.Cell{Target: target, Extension: "needs-added", Requires: []string{"added"}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(req, func(p toolchains.Package) bool { return p.Name == "libgeos-dev" && p.Arch == target }) {
			t.Errorf("%s root of an extension requiring the added one lacks libgeos-dev:%s", target, target)
		}
		pg, _ := toolchains.FromLock(l2).Packages(toolchains.Cell{Target: target})
		if slices.ContainsFunc(pg, func(p toolchains.Package) bool { return p.Name == "libgeos-dev" }) {
			t.Errorf("%s Postgres root has libgeos-dev", target)
		}
	}
	// An extension whose packages do not exist for a target is dropped for
	// that target, with the resolver's reason; its other targets resolve.
	m3 := repoManifest(t, `
[[extension]]
name = "amd64only"
versions = ["1.0"]
build = "pgxs"
[extension.target.amd64]
packages = ["libgeos-dev"]
[extension.target.arm64]
packages = ["no-such-package-dev:arm64"]
[[extension.source]]
urls = ["https://example.invalid/x-{version}.tar.gz"]
`)
	l3 := lockFor(t, m3, l1)
	r3 := toolchains.FromLock(l3)
	if _, err := r3.Packages(toolchains.Cell{Target: "amd64", Extension: "amd64only"}); err != nil {
		t.Errorf("amd64: %v", err)
	}
	_, err := r3.Packages(toolchains.Cell{Target: "arm64", Extension: "amd64only"})
	if err == nil || !strings.Contains(err.Error(), "no-such-package-dev:arm64") || !strings.Contains(err.Error(), "not in the index") {
		t.Errorf("arm64: err = %v, want the resolver's reason", err)
	}
}

// Root digests and action keys do not depend on the umask, the store
// path, the time zone or the locale of the composing host.
func TestPortableRootDigests(t *testing.T) {
	testenv.RequireRoot(t, "real toolchain roots")
	if testing.Short() {
		t.Skip("composes a real root twice")
	}
	m := repoManifest(t, "")
	l := lockFor(t, m, nil)
	req, err := toolchains.FromLock(l).Request(toolchains.Cell{Target: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	open := debs(t, req.Packages)
	cell := build.Cell{Name: "postgres~15.18~barebones~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: "amd64", Source: testenv.PG1518}
	var digests, keys []string
	for i, host := range testenv.TwoHosts(t) {
		leave := host.Enter(t)
		r, err := toolchains.ComposeCached(context.Background(), host.Store, req.Packages, open, toolchains.DefaultOptions)
		leave()
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(r.Dir)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("host %d: root dir mode %v (%v), want 0755", i, fi.Mode(), err)
		}
		if d, err := toolchains.DigestTree(r.Dir); err != nil || d != r.Digest {
			t.Errorf("host %d: DigestTree %s (%v) != recorded %s", i, d, err, r.Digest)
		}
		a, err := build.NewAction(cell, r.Digest, testenv.PG1518.SourceDateEpoch+1700000000)
		if err != nil {
			t.Fatal(err)
		}
		digests, keys = append(digests, r.Digest), append(keys, a.Key())
	}
	if digests[0] != digests[1] || keys[0] != keys[1] {
		t.Errorf("umask 022 and 077 in different store paths: root digests %v, action keys %v; want equal", digests, keys)
	}
}
