package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gofrs/flock"
)

// Registration is one GC root of the store, like a Nix gcroot: a lock file
// (by absolute path) whose inputs, builds and roots `monogres store gc`
// keeps for as long as the file exists. Every `lock`, `fetch` and `build`
// registers its lock, so projects sharing one store never reclaim each
// other's data.
type Registration struct {
	Lock string `json:"lock"` // absolute path of the lock file
	// Actions maps each cell the lock's builds made (or found cached) to
	// the action key of its last build.
	Actions map[string]string `json:"actions,omitempty"`
	file    string
}

// GCRootsDir holds one registration file per registered lock.
func (s *Store) GCRootsDir() string { return filepath.Join(s.dir, "gcroots") }

func (s *Store) registrationFile(abs string) string {
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(s.GCRootsDir(), hex.EncodeToString(h[:16])+".json")
}

// Register records lockPath as a GC root, merging actions (cell -> action
// key, may be nil) into what earlier runs recorded for it. Concurrent
// registrations of one lock serialize on a file lock.
func (s *Store) Register(lockPath string, actions map[string]string) error {
	abs, err := filepath.Abs(lockPath)
	if err != nil {
		return fmt.Errorf("store: registering %s: %v", lockPath, err)
	}
	if err := os.MkdirAll(s.GCRootsDir(), 0o755); err != nil {
		return fmt.Errorf("store: %v", err)
	}
	file := s.registrationFile(abs)
	lk := flock.New(strings.TrimSuffix(file, ".json") + ".lock")
	if err := lk.Lock(); err != nil {
		return fmt.Errorf("store: locking %s: %v", file, err)
	}
	defer lk.Unlock()
	r, err := readRegistration(file)
	if err != nil || r.Lock != abs {
		r = Registration{Lock: abs}
	}
	if len(actions) == 0 && err == nil && r.Lock == abs {
		return nil // already registered, nothing new
	}
	if r.Actions == nil && len(actions) > 0 {
		r.Actions = map[string]string{}
	}
	maps.Copy(r.Actions, actions)
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := WriteFileAtomic(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("store: registering %s: %v", lockPath, err)
	}
	return nil
}

func readRegistration(file string) (Registration, error) {
	var r Registration
	b, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil || !filepath.IsAbs(r.Lock) {
		return Registration{}, fmt.Errorf("%s: not a registration", file)
	}
	r.file = file
	return r, nil
}

// Registrations returns every registration, sorted by lock path; torn or
// foreign files are skipped.
func (s *Store) Registrations() ([]Registration, error) {
	ents, err := os.ReadDir(s.GCRootsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	var out []Registration
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		if r, err := readRegistration(filepath.Join(s.GCRootsDir(), e.Name())); err == nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Registration) int { return strings.Compare(a.Lock, b.Lock) })
	return out, nil
}

// Unregister removes the registration r (a dead root: its lock is gone).
func (s *Store) Unregister(r Registration) error {
	if r.file == "" {
		return nil
	}
	os.Remove(strings.TrimSuffix(r.file, ".json") + ".lock")
	if err := os.Remove(r.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: %v", err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory, fsynced, then renamed over path, so a crash leaves either the
// old file or the new one, never a torn one. It is the one atomic-write
// helper of monogres.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, false)
}

// CreateFileAtomic is WriteFileAtomic for a path that must not exist yet
// (a key): the temp file is linked to path, so path appears whole or not
// at all, and an existing file is never replaced (the error wraps
// fs.ErrExist).
func CreateFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, data, perm, true)
}

func writeAtomic(path string, data []byte, perm fs.FileMode, exclusive bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	// Mode first: a private file is never readable by others, even briefly.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if exclusive {
		err = os.Link(f.Name(), path)
	} else {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}
