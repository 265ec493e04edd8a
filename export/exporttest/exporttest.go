// Package exporttest makes small packages for the export tests: a tree
// packed by build.Pack with its CELL.json, like `monogres build` publishes.
// Only tests import it.
package exporttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/monogres/monogres/build"
)

// Package packs files (path → contents, mode 0755 if the path is under
// bin/ or ends in .so) as cell into out and returns the package path and
// its manifest.
func Package(t testing.TB, out, cell string, files map[string][]byte) (string, build.Manifest) {
	t.Helper()
	tree := t.TempDir()
	for p, b := range files {
		full := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Dir(p) == "bin" || filepath.Ext(p) == ".so" {
			mode = 0o755
		}
		if err := os.WriteFile(full, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	pp := filepath.Join(out, cell+".tar.zst")
	f, err := os.Create(pp)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := build.Pack(context.Background(), tree, 1700000000, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pp)
	sum := sha256.Sum256(b)
	m := build.Manifest{Format: build.ManifestFormat, Cell: cell, Source: "postgres/15.18", SourceDateEpoch: 1700000000,
		Prefix: build.Prefix, Package: hex.EncodeToString(sum[:]), Size: int64(len(b)), Files: entries}
	if err := os.WriteFile(filepath.Join(out, cell+".json"), build.EncodeManifest(&m), 0o644); err != nil {
		t.Fatal(err)
	}
	return pp, m
}

// HostELF is a small dynamically linked host program (it needs libc.so.6).
func HostELF(t testing.TB) []byte {
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
