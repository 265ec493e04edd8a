// Package app owns monogres's end-to-end operations, between the command
// line (internal/cli) and the engines: the cells of a manifest that
// patterns select, the graph of cells a build needs (extension cells with
// their parent Postgres cells), the locked inputs those cells need, fetching
// them, their toolchain roots, building or verifying them, and a dry run
// that reports action keys without building. The CLI keeps flags and
// printing; the TUI driver is a thin adapter over the same calls.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/suggest"
	"github.com/monogres/monogres/lock"
)

// App is one project: a manifest and the lock beside it.
type App struct {
	ManifestPath string
	LockPath     string
}

// New is the App of the manifest at path (its lock is monogres.lock beside it).
func New(manifestPath string) *App {
	return &App{ManifestPath: manifestPath, LockPath: filepath.Join(filepath.Dir(manifestPath), "monogres.lock")}
}

// ReadLock reads and decodes the lock at path; a missing file gives
// fs.ErrNotExist and a nil lock.
func ReadLock(path string) ([]byte, *lock.Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	l, err := lock.Decode(path, data)
	if err != nil {
		return data, nil, err
	}
	return data, l, nil
}

// OpenStore opens the user's store (store.DefaultDir).
func OpenStore() (*store.Store, error) {
	dir, err := store.DefaultDir()
	if err != nil {
		return nil, err
	}
	return store.Open(dir)
}

// Fetcher configures a Fetcher from the manifest's mirrors and distdirs;
// file:// URLs may read the manifest's directory and the distdirs, and the
// download limits come from the environment (fetch.LimitsFromEnv).
func Fetcher(m *manifest.Manifest, st *store.Store, jobs int, offline bool, sink event.Sink) (*fetch.Fetcher, error) {
	limits, err := fetch.LimitsFromEnv()
	if err != nil {
		return nil, err
	}
	f := &fetch.Fetcher{Store: st, Jobs: jobs, Offline: offline, Apt: true, Sink: sink, Limits: limits}
	if dir, err := filepath.Abs(filepath.Dir(m.File)); err == nil {
		f.LocalDirs = append(f.LocalDirs, dir)
	}
	for _, d := range m.Distdirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(filepath.Dir(m.File), d)
		}
		f.Distdirs = append(f.Distdirs, d)
		if abs, err := filepath.Abs(d); err == nil {
			f.LocalDirs = append(f.LocalDirs, abs)
		}
	}
	for _, p := range m.Plugins {
		if p.Path != "" { // a local plugin is found beside itself, by name and sha256
			f.Distdirs = append(f.Distdirs, filepath.Dir(filepath.Join(filepath.Dir(m.File), p.Path)))
		}
	}
	for _, mr := range m.Mirrors {
		f.Mirrors = append(f.Mirrors, fetch.Mirror{From: mr.From, To: mr.To})
	}
	return f, nil
}

// Matrix loads the manifest and resolves its Postgres versions, from the
// lock when there is one and from the index otherwise.
func (a *App) Matrix() (*manifest.Manifest, []plan.Postgres, error) {
	m, err := manifest.Load(a.ManifestPath)
	if err != nil {
		return nil, nil, err
	}
	_, old, err := ReadLock(a.LockPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	pgs, err := lock.PostgresVersions(m, old, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := plan.CheckExtensions(m, pgs); err != nil {
		return nil, nil, err
	}
	return m, pgs, nil
}

// Select returns the cells matching patterns, or the manifest's default
// cells when there are none.
func (a *App) Select(patterns []string) (*manifest.Manifest, []plan.Cell, error) {
	m, cells, _, err := a.selectCells(patterns)
	return m, cells, err
}

// selectCells is Select that also indexes the cells of the extensions
// the manifest's requires name (nil when none does).
func (a *App) selectCells(patterns []string) (*manifest.Manifest, []plan.Cell, requireIndex, error) {
	m, pgs, err := a.Matrix()
	if err != nil {
		return nil, nil, nil, err
	}
	if len(patterns) == 0 {
		patterns = m.Default
		if len(patterns) == 0 {
			return nil, nil, nil, fmt.Errorf("%s: no cells named and no default = [...] cells declared", m.File)
		}
	}
	var cells []plan.Cell
	req := newRequireIndex(m)
	err = plan.Each(m, pgs, func(c *plan.Cell) error {
		if plan.Match(patterns, c.Name) && !c.IsExcluded() { // plan lists excluded cells as dropped
			cells = append(cells, *c)
		}
		req.add(c)
		return nil
	})
	if err == nil && len(cells) == 0 {
		err = fmt.Errorf("no cell matches %s%s (see `monogres plan`)", strings.Join(patterns, " "), DidYouMean(a.SuggestCells(patterns...)))
	}
	return m, cells, req, err
}

// SuggestCells returns the cell names of the matrix closest to the given
// names (for a did-you-mean); nil when the matrix cannot be read.
func (a *App) SuggestCells(names ...string) []string {
	m, pgs, err := a.Matrix()
	if err != nil {
		return nil
	}
	var all []string
	_ = plan.Each(m, pgs, func(c *plan.Cell) error {
		all = append(all, c.Name)
		return nil
	})
	var out []string
	for _, n := range names {
		for _, s := range suggest.Closest(n, all) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// DidYouMean formats suggestions as "; did you mean A or B?" ("" for none).
func DidYouMean(sug []string) string {
	if len(sug) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(sug, " or ") + "?"
}

// CellState is one cell of the matrix and how far its inputs are.
type CellState struct {
	plan.Cell
	// State is locked (its source is in the lock), fetched (and in the
	// store) or empty.
	State event.State
}

// Cells lists the whole matrix in order with each cell's input state.
func (a *App) Cells(ctx context.Context) ([]CellState, error) {
	m, pgs, err := a.Matrix()
	if err != nil {
		return nil, err
	}
	_, l, _ := ReadLock(a.LockPath)
	st, _ := OpenStore()
	var cells []CellState
	err = plan.Each(m, pgs, func(c *plan.Cell) error {
		cs := CellState{Cell: *c}
		if l != nil {
			if in, ok := l.Find(c.Input); ok {
				cs.State = event.StateLocked
				if st != nil && st.Has(in.SHA256) {
					cs.State = event.StateFetched
				}
			}
		}
		cells = append(cells, cs)
		return nil
	})
	return cells, err
}
