package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/plugins"
)

// TestShippedPluginsAreReproducible rebuilds every plugin the repository's
// monogres.toml pins from plugins/dist out of its source in
// plugins/examples (as `monogres plugin build` does), and checks the bytes match both the committed file and
// the sha256 the manifest pins: a shipped binary nobody can rebuild would
// defeat the point of monogres.
func TestShippedPluginsAreReproducible(t *testing.T) {
	m, err := manifest.Load("../../monogres.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Plugins) == 0 {
		t.Fatal("monogres.toml pins no plugin")
	}
	for _, p := range m.Plugins {
		out := filepath.Join(t.TempDir(), p.Name+".wasm")
		if _, err := plugins.Build(context.Background(), "../../plugins/examples/"+p.Name, out, os.Stderr); err != nil {
			t.Fatal(err)
		}
		built, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		shipped, err := os.ReadFile(filepath.Join("../../plugins/dist", p.Name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(built)
		if got := hex.EncodeToString(sum[:]); got != string(p.SHA256) {
			t.Errorf("plugin %s rebuilt from source has sha256 %s; monogres.toml pins %s", p.Name, got, p.SHA256)
		}
		if string(built) != string(shipped) {
			t.Errorf("plugins/dist/%s.wasm differs from a rebuild of plugins/examples/%s", p.Name, p.Name)
		}
	}
}
