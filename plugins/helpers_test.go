package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/monogres/monogres/plugins/sdk"
)

// builtWasm caches plugins compiled from source during this test run, by
// package path, so each is built once with the Go toolchain.
var builtWasm struct {
	mu sync.Mutex
	m  map[string][]byte
}

// buildPlugin compiles the Go package pkg (relative to this directory) with
// GOOS=wasip1 GOARCH=wasm into a temp dir and returns the wasm bytes.
func buildPlugin(t testing.TB, pkg string) []byte {
	t.Helper()
	builtWasm.mu.Lock()
	defer builtWasm.mu.Unlock()
	if b, ok := builtWasm.m[pkg]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".wasm")
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := goBuildWasm(context.Background(), "", pkg, out, env); err != nil {
		t.Fatalf("building plugin %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if builtWasm.m == nil {
		builtWasm.m = map[string][]byte{}
	}
	builtWasm.m[pkg] = b
	return b
}

// buildCommand compiles pkg as a WASI command module (go build's default
// -buildmode=exe), the form of plugins not built by monogres plugin build.
func buildCommand(t testing.TB, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s: %v\n%s", pkg, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newHost starts a Host whose compile cache is shared by the whole test run
// (cacheDir), unless opts names another.
func newHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = sharedCacheDir
	}
	h, err := NewHost(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// compile builds pkg and compiles it in h.
func compile(t testing.TB, h *Host, pkg string) *Module {
	t.Helper()
	wasm := buildPlugin(t, pkg)
	m, err := h.Compile(context.Background(), filepath.Base(pkg), wasm, sha256Hex(wasm))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeTree creates files (path -> content) under a new temp dir.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testRequest() sdk.Request {
	return sdk.Request{
		Extension: sdk.Extension{Name: "demo", Version: "1.2"},
		Postgres:  sdk.Postgres{Version: "15.18", Major: 15},
		OptionSet: "regular",
		Arch:      "amd64",
		Paths: sdk.Paths{
			Source:   "/build/src",
			Out:      "/build/out",
			PGConfig: "/build/pg/bin/pg_config",
		},
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}
