package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/toolchains"
)

// Issue 10 finding 7: builds extracted sources by path without re-hashing,
// so a flipped byte in the store went into the build. The source is read
// through the store's checked path now: the build is refused as store
// damage, and the entry evicted for `monogres fetch` to repair.
func TestBuildRefusesDamagedSource(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := bytes.Repeat([]byte("postgresql-15.18 "), 4096)
	h := sha256.Sum256(src)
	c := testCell(15, "amd64")
	c.Source.SHA256, c.Source.Size, c.Source.SourceDateEpoch = hex.EncodeToString(h[:]), int64(len(src)), 1
	if err := st.Put(context.Background(), bytes.NewReader(src), c.Source.SHA256, c.Source.Size); err != nil {
		t.Fatal(err)
	}
	if !st.Has(c.Source.SHA256) {
		t.Fatal("source not present")
	}
	src[100] ^= 1
	p := st.Path(c.Source.SHA256)
	os.Chmod(p, 0o644)
	os.WriteFile(p, src, 0o444)
	tc := func(context.Context, toolchains.Cell) (Toolchain, error) {
		t.Error("a damaged source got as far as the toolchain")
		return Toolchain{}, nil
	}
	_, err = Build(context.Background(), Config{Store: st, Toolchain: tc}, []Cell{c})
	if err == nil || !strings.Contains(err.Error(), "store damage") || !strings.Contains(err.Error(), "monogres fetch") {
		t.Fatalf("build of a damaged source: %v", err)
	}
	t.Log(err)
	if _, err := os.Lstat(p); err == nil {
		t.Error("damaged entry not evicted")
	}
}
