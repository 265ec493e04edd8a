package toolchains

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

	"github.com/monogres/monogres/internal/testenv"
)

// bookworm fetches the real bookworm main index for amd64 and arm64 once
// per test binary.
var bookworm = sync.OnceValues(func() (*Index, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return FetchIndex(ctx, nil, Source{BaseURL: DefaultBaseURL, Suite: DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64", "arm64"}})
})

func bookwormIndex(t testing.TB) *Index {
	t.Helper()
	idx, err := bookworm()
	if err != nil {
		t.Fatalf("fetch bookworm index: %v", err)
	}
	return idx
}

// debCache downloads every package into <cache>/debs/<sha256>.deb (four at
// a time, verified) and returns an Opener reading from there.
func debCache(t testing.TB, pkgs []Package) Opener {
	t.Helper()
	dir := filepath.Join(testenv.CacheDir(t), "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(pkgs))
	var wg sync.WaitGroup
	for _, p := range pkgs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- download(ctx, p, filepath.Join(dir, p.SHA256+".deb"))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return func(_ context.Context, p Package) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, p.SHA256+".deb"))
	}
}

func download(ctx context.Context, p Package, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", p.URL, resp.Status)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".dl-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("GET %s: %w", p.URL, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("GET %s: sha256 %s, index says %s", p.URL, got, p.SHA256)
	}
	return os.Rename(f.Name(), dst)
}

// indexFromStanzas builds an Index from Packages text, for synthetic cases.
func indexFromStanzas(t testing.TB, arch, text string) *Index {
	t.Helper()
	idx := newIndex(Source{BaseURL: "http://example.invalid/debian", Suite: "test", Components: []string{"main"}, Arches: []string{arch}}, IndexFile{Path: "Release"})
	if err := idx.add("main/binary-"+arch+"/Packages", "synthetic", arch, []byte(text), releaseFiles{}); err != nil {
		t.Fatal(err)
	}
	idx.finish()
	return idx
}

func names(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+":"+p.Arch)
	}
	return out
}
