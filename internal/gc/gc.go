// Package gc reclaims what no live project needs from a shared store.
//
// The roots are the store's registrations (store.Registration), like Nix
// gcroots: every `monogres lock`, `fetch` and `build` registers its lock
// file by path. A registration whose lock file still exists is live; gc
// keeps, for each live one, the inputs its lock pins, the action-cache
// entries its builds recorded with the packages, manifests and logs they
// point to, and the toolchain roots composed only of .debs its lock pins.
// Everything else goes: cas/ blobs, ac/ entries and logs, roots/ (through
// toolchains.GC, which also frees the shared file pool), and the dead
// registrations. A gc run in one project therefore never touches another
// live project's data.
package gc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// Report says what Run removed (or, with dry run, would remove).
type Report struct {
	Blobs   []string // cas/ sha256
	Actions []string // ac/ action keys (entry and log)
	Roots   []string // roots/ keys
	Dead    []string // lock paths of dead registrations
	Bytes   int64    // total size of all of the above
	Live    []string // lock paths of live registrations
	Kept    int      // cas/ blobs kept
}

// live is what the live registrations reference.
type live struct {
	blobs   map[string]bool
	actions map[string]bool
	debs    []map[string]bool // per live lock, the sha256 of the .debs it pins
}

// Run collects the store st. With dryRun nothing is removed. A live lock
// that cannot be read or decoded stops the run before anything is removed:
// what it needs is not known.
func Run(st *store.Store, dryRun bool) (Report, error) {
	var rep Report
	regs, err := st.Registrations()
	if err != nil {
		return rep, err
	}
	lv := live{blobs: map[string]bool{}, actions: map[string]bool{}}
	var dead []store.Registration
	for _, r := range regs {
		data, err := os.ReadFile(r.Lock)
		if errors.Is(err, fs.ErrNotExist) {
			dead = append(dead, r)
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("store gc: %v (refusing to collect without knowing what it needs)", err)
		}
		l, err := lock.Decode(r.Lock, data)
		if err != nil {
			return rep, fmt.Errorf("store gc: %v (refusing to collect without knowing what it needs)", err)
		}
		rep.Live = append(rep.Live, r.Lock)
		for _, in := range l.Inputs {
			lv.blobs[in.SHA256] = true
		}
		debs := map[string]bool{}
		for _, in := range l.Inputs {
			if in.Kind == lock.KindDeb {
				debs[in.SHA256] = true
			}
		}
		lv.debs = append(lv.debs, debs)
		for _, key := range r.Actions {
			lv.actions[key] = true
		}
	}
	// Action-cache entries of live builds keep their package and manifest.
	for key := range lv.actions {
		e, ok := readAC(st, key)
		if !ok {
			continue
		}
		lv.blobs[e.Package], lv.blobs[e.Manifest] = true, true
	}
	if err := collectAC(st, lv, dryRun, &rep); err != nil {
		return rep, err
	}
	if err := collectRoots(st, lv, dryRun, &rep); err != nil {
		return rep, err
	}
	cas, err := st.GC(lv.blobs, dryRun)
	if err != nil {
		return rep, err
	}
	rep.Blobs, rep.Kept = cas.Removed, cas.Kept
	rep.Bytes += cas.Bytes
	for _, r := range dead {
		rep.Dead = append(rep.Dead, r.Lock)
		if !dryRun {
			if err := st.Unregister(r); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func readAC(st *store.Store, key string) (build.ACEntry, bool) {
	b, err := os.ReadFile(filepath.Join(st.ACDir(), key+".json"))
	if err != nil {
		return build.ACEntry{}, false
	}
	var e build.ACEntry
	if json.Unmarshal(b, &e) != nil || e.ActionKey != key {
		return build.ACEntry{}, false
	}
	return e, true
}

// collectAC removes the ac/ entries of actions no live lock recorded, with
// their build and verify logs and verified records (ac/verified/KEY), and
// SOURCE_DATE_EPOCH memos of blobs nobody keeps.
func collectAC(st *store.Store, lv live, dryRun bool, rep *Report) error {
	ents, err := os.ReadDir(st.ACDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store gc: %v", err)
	}
	for _, e := range ents {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || lv.actions[key] {
			continue
		}
		rep.Actions = append(rep.Actions, key)
		for _, p := range []string{filepath.Join(st.ACDir(), e.Name()), build.LogPath(st, key), verifyLog(st, key), filepath.Join(st.ACDir(), "verified", key)} {
			rep.Bytes += remove(p, dryRun)
		}
	}
	// Logs (build and verify) whose entry is gone.
	logs, _ := os.ReadDir(filepath.Join(st.ACDir(), "logs"))
	for _, e := range logs {
		key, ok := strings.CutSuffix(e.Name(), ".log")
		key = strings.TrimSuffix(key, ".verify")
		if !ok || lv.actions[key] || slices.Contains(rep.Actions, key) {
			continue
		}
		if _, err := os.Stat(filepath.Join(st.ACDir(), key+".json")); err == nil {
			continue
		}
		rep.Bytes += remove(filepath.Join(st.ACDir(), "logs", e.Name()), dryRun)
	}
	sde, _ := os.ReadDir(filepath.Join(st.ACDir(), "sde"))
	for _, e := range sde {
		if !lv.blobs[e.Name()] {
			rep.Bytes += remove(filepath.Join(st.ACDir(), "sde", e.Name()), dryRun)
		}
	}
	slices.Sort(rep.Actions)
	return nil
}

// verifyLog is where a verify rebuild of key logs (build.Engine writes it
// next to the build log).
func verifyLog(st *store.Store, key string) string {
	return strings.TrimSuffix(build.LogPath(st, key), ".log") + ".verify.log"
}

// collectRoots removes the composed roots no live lock can use: a root is
// live when every .deb it was composed from is pinned by one live lock
// (its roots/<key>/packages list). toolchains.GC removes the others and
// the shared pool files only they linked.
func collectRoots(st *store.Store, lv live, dryRun bool, rep *Report) error {
	ents, err := os.ReadDir(st.RootsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store gc: %v", err)
	}
	keep := map[string]bool{}
	for _, e := range ents {
		key := e.Name()
		if len(key) != 64 || strings.Trim(key, "0123456789abcdef") != "" {
			continue // the shared file pool, or not a root
		}
		if rootLive(filepath.Join(st.RootsDir(), key), lv.debs) {
			keep[key] = true
			continue
		}
		rep.Roots = append(rep.Roots, key)
		if dryRun {
			rep.Bytes += freed(filepath.Join(st.RootsDir(), key))
		}
	}
	if dryRun || len(rep.Roots) == 0 {
		return nil
	}
	stats, err := toolchains.GC(st.Dir(), keep)
	if err != nil {
		return fmt.Errorf("store gc: %v", err)
	}
	rep.Bytes += stats.Bytes
	return nil
}

func rootLive(dir string, locks []map[string]bool) bool {
	b, err := os.ReadFile(filepath.Join(dir, "packages"))
	if err != nil {
		return false // not a complete root
	}
	var debs []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 4 {
			debs = append(debs, f[3])
		}
	}
	for _, pinned := range locks {
		all := true
		for _, d := range debs {
			all = all && pinned[d]
		}
		if all {
			return true
		}
	}
	return false
}

// freed is the size of the files under dir that only dir links (what
// removing it frees; pool files other roots link stay).
func freed(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				if s, ok := fi.Sys().(*syscall.Stat_t); !ok || s.Nlink == 1 {
					n += fi.Size()
				}
			}
		}
		return nil
	})
	return n
}

// remove deletes the file path unless dryRun and returns its size.
func remove(path string, dryRun bool) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !dryRun {
		os.Remove(path)
	}
	return fi.Size()
}
