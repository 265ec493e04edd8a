package build

import (
	"context"
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
	if err := store.WriteFileAtomic(acPath(st, e.ActionKey), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("build: action cache: %w", err)
	}
	return nil
}

// RemoteCache is a cache of action results shared between machines
// (remote.Cache). The engine asks it after a local miss and before any
// build, and tells it every result it built and recorded.
type RemoteCache interface {
	// Lookup returns the verified result of action key of cell, its
	// package, manifest and log now in st; false means build the cell (a
	// miss, a refused entry, or a cache that is down: the cache reports
	// those itself).
	Lookup(ctx context.Context, st *store.Store, cell, key string) (ACEntry, bool)
	// Record shares the result e of a build whose blobs are in st.
	// Failing to is the cache's to report; it never fails the build.
	Record(ctx context.Context, st *store.Store, e ACEntry)
	// Offer shares a local hit e if the cache has no entry for it (a
	// builder whose store was warm publishes what the cache lacks).
	Offer(ctx context.Context, st *store.Store, e ACEntry)
}

// lookup finds the result of action key in the local action cache (and
// offers it to the remote one), then in the remote one (recording a remote
// hit locally).
func (e *engine) lookup(ctx context.Context, c Cell, key string) (ACEntry, bool, error) {
	hit, ok, err := Lookup(e.cfg.Store, key)
	if ok && e.cfg.Remote != nil {
		e.cfg.Remote.Offer(ctx, e.cfg.Store, hit)
	}
	if ok || err != nil || e.cfg.Remote == nil {
		return hit, ok, err
	}
	if hit, ok = e.cfg.Remote.Lookup(ctx, e.cfg.Store, c.Name, key); !ok {
		return hit, false, nil
	}
	return hit, true, Record(e.cfg.Store, hit)
}

// share records e locally, then in the remote cache.
func (e *engine) share(ctx context.Context, ent ACEntry) error {
	if err := Record(e.cfg.Store, ent); err != nil {
		return err
	}
	if e.cfg.Remote != nil {
		e.cfg.Remote.Record(ctx, e.cfg.Store, ent)
	}
	return nil
}
