package toolchains

import (
	"context"
	"io"
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
	files := make([]testenv.File, len(pkgs))
	for i, p := range pkgs {
		files[i] = testenv.File{URL: p.URL, SHA256: p.SHA256, Dst: filepath.Join(dir, p.SHA256+".deb")}
	}
	if err := testenv.DownloadAll(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, p Package) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, p.SHA256+".deb"))
	}
}

// indexFromStanzas builds an Index from Packages text, for synthetic cases.
func indexFromStanzas(t testing.TB, arch, text string) *Index {
	t.Helper()
	idx := newIndex(Source{BaseURL: "http://example.invalid/debian", Suite: "test", Components: []string{"main"}, Arches: []string{arch}}, IndexFile{Path: "Release"})
	if err := idx.add(IndexFile{Path: "main/binary-" + arch + "/Packages", URL: "synthetic", Arch: arch}, []byte(text)); err != nil {
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
