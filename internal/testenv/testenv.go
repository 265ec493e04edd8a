// Package testenv holds what monogres' integration tests share: the test
// cache directory that keeps real downloads (Debian packages, Postgres and
// extension sources) and composed roots between runs, the root requirement,
// a verified downloader and the real inputs the tests build. Only tests
// import it.
package testenv

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

	"github.com/monogres/monogres/lock"
)

// CacheDir returns the test cache: $MONOGRES_TEST_CACHE, default
// /var/cache/monogres-test. It is created if missing.
func CacheDir(t testing.TB) string {
	dir, err := Dir()
	if err != nil {
		t.Fatalf("test cache: %v", err)
	}
	return dir
}

// Dir is CacheDir for code without a testing.TB (a TestMain).
func Dir() (string, error) {
	dir := os.Getenv("MONOGRES_TEST_CACHE")
	if dir == "" {
		dir = "/var/cache/monogres-test"
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// RequireRoot skips t unless it runs as root, saying why the test needs it.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (" + why + "); CI runs as root")
	}
}

// PG1518 is the lock input of the real Postgres 15.18 release tarball, as
// Debian ships it.
var PG1518 = lock.Input{
	Name:        "postgres/15.18",
	Kind:        lock.KindPostgres,
	Version:     "15.18",
	URLs:        []string{"https://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2"},
	SHA256:      "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4",
	StripPrefix: "postgresql-15.18",
}

// PG186 is the lock input of the real Postgres 18.6 release tarball, as
// Debian ships it (sid's postgresql-18; not in bookworm's Sources).
var PG186 = lock.Input{
	Name:            "postgres/18.6",
	Kind:            lock.KindPostgres,
	Version:         "18.6",
	URLs:            []string{"https://deb.debian.org/debian/pool/main/p/postgresql-18/postgresql-18_18.6.orig.tar.bz2"},
	SHA256:          "555610c24d53e4316da5b7d3fc25c279d96856d5e0e23ee308c328c5fa881d9f",
	Size:            22632314,
	StripPrefix:     "postgresql-18.6",
	SourceDateEpoch: 1786473511,
}

// Source returns the path of a real source input in the test cache
// (src/<file name of its first URL>), downloading it if missing.
func Source(t testing.TB, in lock.Input) string {
	t.Helper()
	path := filepath.Join(CacheDir(t), "src", filepath.Base(in.URLs[0]))
	if err := Download(context.Background(), in.URLs[0], in.SHA256, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Download fetches url into dst unless dst exists, checking its sha256
// before renaming it into place.
func Download(ctx context.Context, url, sha, dst string) error {
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

// File is one download for DownloadAll.
type File struct{ URL, SHA256, Dst string }

// DownloadAll downloads files, four at a time.
func DownloadAll(ctx context.Context, files []File) error {
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- Download(ctx, f.URL, f.SHA256, f.Dst)
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
