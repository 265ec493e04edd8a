package build_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
)

// testStore opens the shared test store (roots and sources stay warm between
// runs) and makes sure the 15.18 tarball is in it: from the local copy if
// present, else from deb.debian.org.
func testStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(testenv.CacheDir(t), "store"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Has(testenv.PG1518.SHA256) {
		return st
	}
	ctx := context.Background()
	local := filepath.Join(testenv.CacheDir(t), "src", "postgresql-15_15.18.orig.tar.bz2")
	if _, err := os.Stat(local); err != nil {
		if err := testenv.Download(ctx, testenv.PG1518.URLs[0], testenv.PG1518.SHA256, local); err != nil {
			t.Fatal(err)
		}
	}
	sha, _, err := st.AddFile(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	if sha != testenv.PG1518.SHA256 {
		t.Fatalf("%s: sha256 %s, want %s", local, sha, testenv.PG1518.SHA256)
	}
	return st
}
