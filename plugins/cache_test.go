package plugins

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileCacheOnDisk checks that compiled code lands in the caller's
// directory under a wazero-version directory, is reused by a new Host, and
// that a corrupted entry is not trusted.
func TestCompileCacheOnDisk(t *testing.T) {
	wasm := buildPlugin(t, "./examples/genfile")
	dir := t.TempDir()
	ctx := context.Background()

	h1 := newHost(t, Options{CacheDir: dir})
	if _, err := h1.Compile(ctx, "genfile", wasm, sha256Hex(wasm)); err != nil {
		t.Fatal(err)
	}
	var entries []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			entries = append(entries, p)
		}
		return nil
	})
	ns, err := cacheNamespace()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0], filepath.Join(dir, ns, "wazero-")) {
		t.Fatalf("cache entries %v; want one file under %s/wazero-<version>-<arch>-<os>/", entries, filepath.Join(dir, ns))
	}
	t.Logf("cache entry: %s", entries[0])

	// Corrupt the compiled code: a new host must not run it, but recompile
	// and replace the entry.
	b, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+64; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(entries[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	h2 := newHost(t, Options{CacheDir: dir})
	m, err := h2.Compile(ctx, "genfile", wasm, sha256Hex(wasm))
	if err != nil {
		t.Fatalf("compiling over a corrupted cache entry: %v", err)
	}
	if fixed, err := os.ReadFile(entries[0]); err != nil || string(fixed) == string(b) {
		t.Errorf("corrupted cache entry was not replaced (%v)", err)
	}
	src := writeTree(t, map[string]string{"Makefile": "all:\n"})
	if _, err := h2.Call(ctx, m, testRequest(), os.DirFS(src), nil); err != nil {
		t.Fatalf("after recompiling over a corrupted entry: %v", err)
	}
}
