package toolchains

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// GCStats is what GC removed.
type GCStats struct {
	Roots     int   // root directories removed
	PoolFiles int   // pool files no root links any more
	Bytes     int64 // bytes of file data freed (files whose last link went)
}

// GC removes the composed roots under store whose key is not in live,
// then the pool files no remaining root links and the entry lists of
// .debs that no remaining root holds. A root being composed while GC runs
// loses at most pool files it had not linked yet; compose extracts those
// .debs again.
func GC(store string, live map[string]bool) (GCStats, error) {
	var st GCStats
	dir := RootsDir(store)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("toolchains: gc: %w", err)
	}
	keepDebs := map[string]bool{}
	for _, e := range ents {
		key := e.Name()
		if !isKey(key) {
			continue // .pool and anything not a root
		}
		if live[key] {
			b, _ := os.ReadFile(filepath.Join(dir, key, "packages"))
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) == 4 {
					keepDebs[f[3]] = true
				}
			}
			continue
		}
		n, err := freedBytes(filepath.Join(dir, key))
		if err != nil {
			return st, fmt.Errorf("toolchains: gc: %w", err)
		}
		if err := removeAll(filepath.Join(dir, key)); err != nil {
			return st, fmt.Errorf("toolchains: gc: %w", err)
		}
		st.Roots++
		st.Bytes += n
	}
	pl := poolOf(store)
	files, _ := os.ReadDir(filepath.Join(pl.dir, "files"))
	for _, f := range files {
		fi, err := f.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok && s.Nlink == 1 {
			if err := os.Remove(filepath.Join(pl.dir, "files", f.Name())); err != nil {
				return st, fmt.Errorf("toolchains: gc: %w", err)
			}
			st.PoolFiles++
			st.Bytes += fi.Size()
		}
	}
	lists, _ := os.ReadDir(filepath.Join(pl.dir, "debs"))
	for _, l := range lists {
		deb, _, _ := strings.Cut(l.Name(), "-")
		if !keepDebs[deb] {
			fi, err := l.Info()
			if err == nil {
				st.Bytes += fi.Size()
			}
			os.Remove(filepath.Join(pl.dir, "debs", l.Name()))
		}
	}
	return st, nil
}

func isKey(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

// freedBytes is the size of the regular files under dir that removing dir
// frees (no other link, such as a pool entry, keeps them).
func freedBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok && s.Nlink == 1 {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// removeAll removes dir even where a package made a directory read-only.
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
