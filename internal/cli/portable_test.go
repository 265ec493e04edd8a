package cli

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/testenv"
)

// TestDryRunPortableAcrossHosts: two hosts building the same lock agree on
// every root digest and action key, whatever their umask, store path, time
// zone and locale. Each "host" is a store of its own, filled by `monogres
// fetch` and composed by `monogres build --dry-run --json` under its own
// umask; the dry runs' JSON must be identical, and name a root and a key
// for every cell.
func TestDryRunPortableAcrossHosts(t *testing.T) {
	testenv.RequireRoot(t, "composes real toolchain roots")
	if testing.Short() {
		t.Skip("composes four real toolchain roots (about a minute); not in -short")
	}
	manifest := filepath.Join(e2eProject(t), "monogres.toml")
	cells := []string{"postgres~15.18~barebones~amd64", "postgres~15.18~barebones~arm64"}
	var outputs []string
	for i, host := range testenv.TwoHosts(t) {
		t.Setenv("MONOGRES_STORE", host.Store)
		leave := host.Enter(t)
		linkBlobs(t, filepath.Join(e2eStore(), "cas"), filepath.Join(host.Store, "cas"))
		code, _, stderr := run(context.Background(), append([]string{"--manifest", manifest, "fetch"}, cells...)...)
		if code != 0 {
			leave()
			t.Fatalf("host %d: fetch: exit %d\n%s", i, code, stderr)
		}
		code, stdout, stderr := run(context.Background(), append([]string{"--manifest", manifest, "build", "--dry-run", "--json"}, cells...)...)
		leave()
		if code != 0 {
			t.Fatalf("host %d: build --dry-run: exit %d\n%s", i, code, stderr)
		}
		for line := range strings.Lines(stdout) {
			var p struct {
				Cell      string `json:"cell"`
				ActionKey string `json:"action_key"`
				Root      string `json:"root"`
				Reason    string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(line), &p); err != nil || p.ActionKey == "" || p.Root == "" {
				t.Fatalf("host %d: dry-run line without a key and a root (%v): %s", i, err, line)
			}
		}
		if n := strings.Count(stdout, "\n"); n != len(cells) {
			t.Fatalf("host %d: %d dry-run lines, want %d:\n%s", i, n, len(cells), stdout)
		}
		outputs = append(outputs, stdout)
	}
	if outputs[0] != outputs[1] {
		t.Errorf("umask 022 and 077, different store paths, time zones and locales disagree:\n%s\n%s", outputs[0], outputs[1])
	}
	t.Logf("both hosts:\n%s", outputs[0])
}

// linkBlobs hard-links the blobs of the shared test store into a new
// store, so a test does not download again what another test fetched; the
// fetch after it still verifies every input and gets what is missing.
func linkBlobs(t *testing.T, from, to string) {
	t.Helper()
	filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(from, path)
		if os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755) == nil {
			os.Link(path, filepath.Join(to, rel))
		}
		return nil
	})
}
