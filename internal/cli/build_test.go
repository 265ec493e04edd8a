package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildWithoutArgumentsSelectsDefault: `monogres build` with no cell
// names (the README's main job) acts on the manifest's default cells. A
// dry run of the repository's own manifest must list every default cell.
func TestBuildWithoutArgumentsSelectsDefault(t *testing.T) {
	t.Setenv("MONOGRES_STORE", t.TempDir())
	manifest := filepath.Join("..", "..", "monogres.toml")
	code, stdout, stderr := run(context.Background(), "--manifest", manifest, "build", "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("monogres build --dry-run: exit %d\n%s", code, stderr)
	}
	cells := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader([]byte(stdout)))
	for dec.More() {
		var line struct {
			Cell string `json:"cell"`
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("dry-run output: %v\n%s", err, stdout)
		}
		cells[line.Cell] = true
	}
	for _, want := range []string{"postgres~15.18~barebones~amd64", "postgres~15.18~debug~amd64", "postgres~15.18~regular~arm64", "postgres~18.6~barebones~amd64", "postgres~18.6~regular~arm64"} {
		if !cells[want] {
			t.Errorf("default cell %s missing from `monogres build --dry-run`; stderr:\n%s", want, stderr)
		}
	}
	if len(cells) != 14 || strings.Contains(stderr, "has no cells") {
		t.Errorf("got %d cells (want the 14 default cells); stderr:\n%s", len(cells), stderr)
	}
}
