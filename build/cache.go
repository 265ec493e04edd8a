package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/monogres/monogres/internal/store"
)

// ACEntry is an action result in <store>/ac/<key>.json.
type ACEntry struct {
	Cell      string `json:"cell"`
	ActionKey string `json:"action_key"`
	Package   string `json:"package"`  // hex sha256 in the CAS
	Manifest  string `json:"manifest"` // hex sha256 in the CAS
	Log       string `json:"log"`      // path of the build log
}

func acPath(st *store.Store, key string) string { return filepath.Join(st.ACDir(), key+".json") }

// LogPath is where the log of action key is kept: <store>/ac/logs/<key>.log.
func LogPath(st *store.Store, key string) string {
	return filepath.Join(st.ACDir(), "logs", key+".log")
}

// Lookup returns the cached result of action key. An entry whose package
// or manifest blob is missing from the CAS is no hit.
func Lookup(st *store.Store, key string) (ACEntry, bool, error) {
	b, err := os.ReadFile(acPath(st, key))
	if errors.Is(err, fs.ErrNotExist) {
		return ACEntry{}, false, nil
	}
	if err != nil {
		return ACEntry{}, false, fmt.Errorf("build: action cache: %w", err)
	}
	var e ACEntry
	if err := json.Unmarshal(b, &e); err != nil || e.ActionKey != key {
		// A torn or foreign entry: drop it, the cell is rebuilt.
		os.Remove(acPath(st, key))
		return ACEntry{}, false, nil
	}
	if !st.Has(e.Package) || !st.Has(e.Manifest) {
		return ACEntry{}, false, nil
	}
	return e, true, nil
}

// Record writes the result of action e.ActionKey atomically.
func Record(st *store.Store, e ACEntry) error {
	if err := os.MkdirAll(st.ACDir(), 0o755); err != nil {
		return fmt.Errorf("build: action cache: %w", err)
	}
	b, _ := json.MarshalIndent(e, "", "  ")
	f, err := os.CreateTemp(st.ACDir(), ".new-*")
	if err != nil {
		return fmt.Errorf("build: action cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("build: action cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("build: action cache: %w", err)
	}
	if err := os.Rename(f.Name(), acPath(st, e.ActionKey)); err != nil {
		return fmt.Errorf("build: action cache: %w", err)
	}
	return nil
}
