package remote_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/remote"
	"github.com/monogres/monogres/remote/remotetest"
)

// realPostgres finds a built postgres~15.18~barebones~amd64 cell in the
// test cache's store (the build tests leave it there), or skips.
func realPostgres(b *testing.B) (*store.Store, build.ACEntry) {
	st, err := store.Open(filepath.Join(testenv.CacheDir(b), "store"))
	if err != nil {
		b.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(st.ACDir(), "*.json"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var e build.ACEntry
		if json.Unmarshal(raw, &e) == nil && e.Cell == pgCell {
			if hit, ok, _ := build.Lookup(st, e.ActionKey); ok {
				return st, hit
			}
		}
	}
	b.Skip("no built " + pgCell + " in the test cache's store (run the build tests first)")
	return nil, build.ACEntry{}
}

func benchCache(b *testing.B, url string, k *keys.PrivateKey) *remote.Cache {
	c, err := remote.NewClient(url)
	if err != nil {
		b.Fatal(err)
	}
	return &remote.Cache{Client: c, Signer: k, Trusted: keys.NewRing(k.Public()), Warn: func(s string) { b.Fatal(s) }}
}

// BenchmarkPostgresCell compares, for a real barebones 15.18 package, a
// remote hit (GET the entry, check its signature, download package,
// manifest and log into an empty store hashing them, check the manifest)
// with a local hit (the store's action cache) and an upload (the blobs
// and the signed entry to an empty nginx). Building the cell is ~6 min
// (TestDistributed logs its shard's time).
func BenchmarkPostgresCell(b *testing.B) {
	ctx := context.Background()
	st, ent := realPostgres(b)
	size, _ := st.Size(ent.Package)
	k, _ := keys.Generate("bench")
	b.Run("local-hit", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := build.Lookup(st, ent.ActionKey); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("upload", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			srv := remotetest.Nginx(b, remotetest.Options{})
			c := benchCache(b, srv.URL, k)
			b.StartTimer()
			c.Record(ctx, st, ent)
			if c.Uploaded.Load() != 1 {
				b.Fatal("not uploaded")
			}
			b.StopTimer()
			srv.Stop()
			b.StartTimer()
		}
	})
	srv := remotetest.Nginx(b, remotetest.Options{})
	benchCache(b, srv.URL, k).Record(ctx, st, ent)
	b.Run("remote-hit", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			fresh, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			c := benchCache(b, srv.URL, k)
			b.StartTimer()
			if _, ok := c.Lookup(ctx, fresh, ent.Cell, ent.ActionKey); !ok {
				b.Fatal("miss")
			}
		}
	})
}
