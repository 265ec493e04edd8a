package build_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// testCache is where tests keep downloads, composed roots and built
// packages between runs (MONOGRES_TEST_CACHE, default /var/cache/monogres-test).
func testCache(t testing.TB) string {
	dir := os.Getenv("MONOGRES_TEST_CACHE")
	if dir == "" {
		dir = "/var/cache/monogres-test"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("test cache: %v", err)
	}
	return dir
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, real toolchain roots); CI runs as root")
	}
}

// pg1518 is the lock input of the real Postgres 15.18 release tarball.
var pg1518 = lock.Input{
	Name:        "postgres/15.18",
	Kind:        lock.KindPostgres,
	Version:     "15.18",
	URLs:        []string{"https://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2"},
	SHA256:      "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4",
	StripPrefix: "postgresql-15.18",
}

var bookworm = sync.OnceValues(func() (*toolchains.Index, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return toolchains.FetchIndex(ctx, nil, toolchains.Source{BaseURL: toolchains.DefaultBaseURL, Suite: toolchains.DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64", "arm64"}})
})

// realToolchain composes (or finds cached) the default toolchain root of
// each target arch from real bookworm packages, the way `monogres build`
// does from the lock.
func realToolchain(t testing.TB, storeDir string) build.ToolchainFunc {
	debs := filepath.Join(testCache(t), "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	return func(ctx context.Context, arch string) (build.Toolchain, error) {
		mu.Lock()
		defer mu.Unlock()
		idx, err := bookworm()
		if err != nil {
			return build.Toolchain{}, err
		}
		req, err := toolchains.DefaultRequest(arch)
		if err != nil {
			return build.Toolchain{}, err
		}
		pkgs, err := toolchains.Resolve(idx, req)
		if err != nil {
			return build.Toolchain{}, err
		}
		if err := downloadAll(ctx, pkgs, debs); err != nil {
			return build.Toolchain{}, err
		}
		open := func(_ context.Context, p toolchains.Package) (io.ReadCloser, error) {
			return os.Open(filepath.Join(debs, p.SHA256+".deb"))
		}
		r, err := toolchains.ComposeCached(ctx, storeDir, pkgs, open, toolchains.DefaultOptions)
		if err != nil {
			return build.Toolchain{}, err
		}
		return build.Toolchain{Dir: r.Dir, Digest: r.Digest}, nil
	}
}

func downloadAll(ctx context.Context, pkgs []toolchains.Package, dir string) error {
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(pkgs))
	var wg sync.WaitGroup
	for _, p := range pkgs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- download(ctx, p.URL, p.SHA256, filepath.Join(dir, p.SHA256+".deb"))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func download(ctx context.Context, url, sha, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".dl-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("GET %s: sha256 %s, want %s", url, got, sha)
	}
	return os.Rename(f.Name(), dst)
}

// testStore opens the shared test store (roots and sources stay warm between
// runs) and makes sure the 15.18 tarball is in it: from the local copy if
// present, else from deb.debian.org.
func testStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(testCache(t), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Has(pg1518.SHA256) {
		return st
	}
	ctx := context.Background()
	local := filepath.Join(testCache(t), "src", "postgresql-15_15.18.orig.tar.bz2")
	if _, err := os.Stat(local); err != nil {
		if err := download(ctx, pg1518.URLs[0], pg1518.SHA256, local); err != nil {
			t.Fatal(err)
		}
	}
	sha, _, err := st.AddFile(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	if sha != pg1518.SHA256 {
		t.Fatalf("%s: sha256 %s, want %s", local, sha, pg1518.SHA256)
	}
	return st
}
