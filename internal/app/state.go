package app

// Cell states and facts from what is on disk: the lock, the store's CAS,
// its composed toolchain roots and its action cache. Nothing here fetches,
// composes or builds, so a front end can ask at any time; a state survives
// sessions because it is read back from the store, not remembered.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// InputInfo is one locked input a cell needs, and whether the store has it.
type InputInfo struct {
	lock.Input
	Present bool
}

// Info is what monogres knows of one cell without building it: what
// `monogres info CELL` prints and the TUI's detail pane shows.
type Info struct {
	plan.Cell // name, options, dropped options with their reasons
	// State is the cell's state on disk: "" (not in the lock), locked,
	// fetched (every input in the store), built (the action cache has
	// its current action) or verified (and a rebuild matched it).
	State event.State
	// LockErr says why the cell cannot be built from the lock as it is
	// ("" when it can).
	LockErr string
	// Inputs are the locked inputs a build needs: the source (and the
	// extension's source), a plugin, the toolchain root's .debs.
	Inputs  []InputInfo
	Missing int // inputs absent from the store
	// Root is the toolchain root's package set ("name=version"), RootKey
	// its cache key; RootComposed says the store has it composed. RootErr
	// says why the cell has no root (a dropped layer).
	Root         []string
	RootKey      string
	RootComposed bool
	RootErr      string
	// ActionKey is the cell's current action key; KeyReason says why it
	// is not known yet ("" when it is).
	ActionKey string
	KeyReason string
	// Cached: the action cache has ActionKey (a build would not run).
	Cached bool
	// Verified: a rebuild of ActionKey that bypassed the cache produced
	// the same package.
	Verified bool
	// Package is the cached package's sha256, PackagePath its file in the
	// store's CAS.
	Package, PackagePath string
	// Log is the build log of ActionKey in the store, if a build of it
	// ran (also one that failed or was interrupted).
	Log string
	// Unfinished: a build of ActionKey ran and recorded no result (it
	// failed or was interrupted); LastLine is its log's last line. Failed
	// is why it failed when its log says (the engine's last line starts
	// with build.FailedPrefix): then State is failed.
	Unfinished bool
	LastLine   string
	Failed     string
	// Took is how long the last build of this cell (by name, any action
	// key) took; 0 when unknown.
	Took time.Duration
	// Logs are every build log of the cell the store keeps (this action
	// key's and earlier ones', verify rebuilds'), newest first. Info
	// fills it; Status leaves it empty.
	Logs []PastLog
}

// PastLog is one build log of a cell in the store.
type PastLog struct {
	Path      string
	ActionKey string
	Verify    bool // the log of a verify rebuild
	Time      time.Time
}

// Status is the state of the whole matrix.
type Status struct {
	Cells []Info
	// LockPath is the lock the states are read from. Stale lists why it is
	// out of date with the manifest (`monogres lock --check`, offline);
	// empty when it is current. NoLock is set when there is no lock.
	LockPath string
	Stale    []string
	NoLock   bool
}

// Status reads the state of every cell of the matrix, in matrix order.
func (a *App) Status(ctx context.Context) (*Status, error) {
	infos, s, err := a.infos(ctx, nil)
	if err != nil {
		return nil, err
	}
	s.Cells = infos
	return s, nil
}

// Info reads the facts of the cell named name.
func (a *App) Info(ctx context.Context, name string) (*Info, error) {
	infos, _, err := a.infos(ctx, func(n string) bool { return n == name })
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("no cell is named %s (see `monogres plan`)", name)
	}
	if st, err := OpenStore(); err == nil {
		infos[0].Logs = PastLogs(st, name)
	}
	return &infos[0], nil
}

// PastLogs lists the build logs of cell in the store, newest first: every
// log the engine wrote names its cell and action key on its first line.
func PastLogs(st *store.Store, cell string) []PastLog {
	dir := filepath.Join(st.ACDir(), "logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	head := []byte("monogres: cell " + cell + " action ")
	buf := make([]byte, len(head)+64)
	var out []PastLog
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		key, verify := strings.CutSuffix(name, ".verify")
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		n, _ := io.ReadFull(f, buf)
		f.Close()
		if n < len(buf) || !bytes.Equal(buf[:len(head)], head) || string(buf[len(head):]) != key {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, PastLog{Path: filepath.Join(dir, e.Name()), ActionKey: key, Verify: verify, Time: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b PastLog) int { return b.Time.Compare(a.Time) })
	return out
}

// CellInputs are the locked inputs a build of c needs in the store: its
// source, a plugin's wasm and the .debs of its toolchain root.
func CellInputs(roots *toolchains.Resolved, c build.Cell) []lock.Input {
	return cellInputs(c, RootInputs(roots, c))
}

func cellInputs(c build.Cell, root []lock.Input) []lock.Input {
	ins := []lock.Input{c.Source}
	if c.Plugin.Name != "" {
		ins = append(ins, c.Plugin)
	}
	return append(ins, root...)
}

// rootMemo computes each distinct root request once: cells of one target
// and options share a root.
type rootMemo struct {
	roots *toolchains.Resolved
	store string
	reqs  map[string]rootEntry
}

type rootEntry struct {
	req      toolchains.RootRequest
	inputs   []lock.Input
	names    []string // "name=version"
	composed bool
	err      error
}

func (r *rootMemo) get(c toolchains.Cell) rootEntry {
	k := fmt.Sprint(c.Target, c.Options, c.Extension)
	if e, ok := r.reqs[k]; ok {
		return e
	}
	var e rootEntry
	if e.req, e.err = r.roots.Request(c); e.err == nil {
		for _, p := range e.req.Packages {
			e.inputs = append(e.inputs, p.Input())
			e.names = append(e.names, p.Name+"="+p.Version)
		}
		_, e.composed = toolchains.Cached(r.store, e.req)
	}
	r.reqs[k] = e
	return e
}

// infos computes the Info of the cells want selects (every cell when nil),
// in matrix order.
func (a *App) infos(ctx context.Context, want func(string) bool) ([]Info, *Status, error) {
	m, pgs, err := a.Matrix()
	if err != nil {
		return nil, nil, err
	}
	s := &Status{LockPath: a.LockPath}
	lockBytes, l, err := ReadLock(a.LockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.NoLock = true
	case err != nil:
		return nil, nil, err
	case want == nil: // the whole matrix: is the lock current?
		if s.Stale, _, err = lock.Check(ctx, m, l); err != nil {
			s.Stale = []string{"cannot check it against the manifest: " + err.Error()}
		}
	}
	st, err := OpenStore()
	if err != nil {
		return nil, nil, err
	}
	roots := &rootMemo{roots: toolchains.FromLock(l), store: st.Dir(), reqs: map[string]rootEntry{}}
	has := map[string]bool{} // sha256 → in the store, asked once per call
	inStore := func(sha string) bool {
		ok, seen := has[sha]
		if !seen {
			ok = st.Has(sha)
			has[sha] = ok
		}
		return ok
	}

	var infos []Info
	var cells []build.Cell // parallel to infos; Name "" when not buildable
	index := map[string]int{}
	req := newRequireIndex(m)
	add := func(c plan.Cell) {
		in := Info{Cell: c}
		bc, err := a.cell(m, c, l, req)
		if l == nil {
			in.LockErr = fmt.Sprintf("there is no %s: run `monogres lock`", a.LockPath)
		} else if err != nil {
			in.LockErr = err.Error()
		}
		if in.LockErr == "" {
			in.State = event.StateLocked
			root := roots.get(build.RootCell(bc))
			for _, x := range cellInputs(bc, root.inputs) {
				ok := inStore(x.SHA256)
				in.Inputs = append(in.Inputs, InputInfo{Input: x, Present: ok})
				if !ok {
					in.Missing++
				}
			}
			if in.Missing == 0 {
				in.State = event.StateFetched
			}
			if root.err != nil {
				in.RootErr = root.err.Error()
			} else {
				in.RootKey, in.Root, in.RootComposed = root.req.Key, root.names, root.composed
			}
		}
		in.Took = PreviousDuration(st, c.Name)
		index[c.Name] = len(infos)
		infos = append(infos, in)
		cells = append(cells, bc)
	}
	var wanted []plan.Cell
	var excluded error
	err = plan.Each(m, pgs, func(c *plan.Cell) error {
		req.add(c)
		switch {
		case want != nil && !want(c.Name):
		case c.IsExcluded(): // never built: not in the matrix (plan lists it dropped)
			if want != nil {
				for _, d := range c.Dropped {
					if d.Option == plan.Excluded {
						excluded = fmt.Errorf("%s: the manifest excludes it: %s", c.Name, d.Reason)
					}
				}
			}
		default:
			wanted = append(wanted, *c)
		}
		return nil
	})
	if err == nil {
		err = excluded
	}
	if err != nil {
		return nil, nil, err
	}
	for _, c := range wanted {
		add(c)
	}
	n := len(infos)
	for _, c := range wanted { // parents and requires of wanted extension cells, for their keys
		if _, ok := index[c.Parent]; c.Extension != "" && !ok {
			add(parentOf(m, c))
		}
		rcs, _ := req.requires(m, c) // an error is the cell's LockErr
		for _, rc := range rcs {
			if _, ok := index[rc.Name]; !ok {
				add(rc)
			}
		}
	}
	// An extension cell's build needs its parent's inputs too (a build
	// fetches them even when the parent is cached).
	for i := range infos[:n] {
		in := &infos[i]
		p, ok := index[in.Parent]
		if in.Extension == "" || in.LockErr != "" || !ok {
			continue
		}
		seen := map[string]bool{}
		for _, x := range in.Inputs {
			seen[x.Name] = true
		}
		for _, x := range infos[p].Inputs {
			if !seen[x.Name] {
				in.Inputs = append(in.Inputs, x)
				if !x.Present {
					in.Missing++
				}
			}
		}
		if in.Missing > 0 {
			in.State = event.StateLocked
		}
	}
	a.keys(ctx, st, &Graph{Manifest: m, Lock: l, LockBytes: lockBytes, Roots: roots.roots}, infos, cells, index)
	return infos[:n], s, nil
}

// keys computes the action key of every cell that could be cached (its
// sources in the store, its root composed; an extension cell also needs
// its parent cached) the way a build does (build.DryRun), looks it up in
// the action cache and sets the state from what it finds.
func (a *App) keys(ctx context.Context, st *store.Store, g *Graph, infos []Info, cells []build.Cell, index map[string]int) {
	ready := func(in *Info) bool {
		if in.LockErr != "" || !in.RootComposed {
			return false
		}
		for _, x := range in.Inputs {
			if !x.Present && !strings.HasPrefix(x.Name, "deb/") { // a composed root needs no .deb
				return false
			}
		}
		return true
	}
	for i := range infos {
		in := &infos[i]
		switch {
		case in.LockErr != "":
			in.KeyReason = "not buildable from the lock: " + in.LockErr
		case in.RootErr != "":
			in.KeyReason = in.RootErr
		case !ready(in) && !in.RootComposed:
			in.KeyReason = "its toolchain root is not composed yet (a build composes it)"
		case !ready(in):
			in.KeyReason = "inputs missing from the store: run `monogres fetch`"
		}
	}
	// An extension cell's key needs the packages of its parent and the
	// cells it requires: those must be keyable too (a requires chain may
	// take a few rounds).
	for changed := true; changed; {
		changed = false
		for i := range infos {
			in := &infos[i]
			if in.KeyReason != "" {
				continue
			}
			for k, d := range cells[i].Deps() {
				if j, ok := index[d]; !ok || infos[j].KeyReason != "" {
					in.KeyReason = fmt.Sprintf("%s %s is not built yet: its package is an input", build.DepKind(k), d)
					changed = true
					break
				}
			}
		}
	}
	var nodes []build.Node
	var at []int
	for i := range infos {
		if infos[i].KeyReason == "" {
			nodes = append(nodes, build.Node{Cell: cells[i]})
			at = append(at, i)
		}
	}
	if len(nodes) == 0 {
		return
	}
	cfg := config(g, st, Options{}, nil)
	cfg.Toolchain = rootFunc(st, g.Roots, false)
	planned, err := build.DryRun(ctx, cfg, nodes, nil)
	if err != nil {
		for _, i := range at {
			infos[i].KeyReason = err.Error()
		}
		return
	}
	for k, p := range planned {
		in := &infos[at[k]]
		in.ActionKey, in.KeyReason = p.ActionKey, p.Reason
		if p.ActionKey == "" {
			continue
		}
		if log := build.LogPath(st, p.ActionKey); fileExists(log) {
			in.Log = log
		}
		e, ok, err := build.Lookup(st, p.ActionKey)
		if err != nil || !ok {
			if in.Log != "" {
				in.Unfinished = true
				in.LastLine, _ = LogTail(in.Log, 1)
				if why, ok := strings.CutPrefix(in.LastLine, build.FailedPrefix); ok {
					in.Failed, in.State = why, event.StateFailed
				}
			}
			continue
		}
		in.Cached, in.State, in.Package, in.PackagePath = true, event.StateBuilt, e.Package, st.Path(e.Package)
		if e.Log != "" {
			in.Log = e.Log
		}
		if b, err := os.ReadFile(verifiedPath(st, p.ActionKey)); err == nil && strings.TrimSpace(string(b)) == e.Package {
			in.Verified, in.State = true, event.StateVerified
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// verifiedPath records that a rebuild of action key matched: it holds the
// package sha256 both builds produced.
func verifiedPath(st *store.Store, key string) string {
	return filepath.Join(st.ACDir(), "verified", key)
}

// durationPath holds how long the last build of a cell took, in seconds.
func durationPath(st *store.Store, cell string) string {
	return filepath.Join(st.ACDir(), "took", cell)
}

// RecordResults keeps what later sessions show of a run's results: how
// long each built cell took (for ETAs) and which actions a rebuild
// verified.
func RecordResults(st *store.Store, results []build.Result) error {
	var errs []error
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			errs = append(errs, err)
			return
		}
		if err := store.WriteFileAtomic(p, []byte(s+"\n"), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range results {
		if r.State == event.StateVerified && r.ActionKey != "" && r.Package != "" && r.Rebuilt == r.Package {
			write(verifiedPath(st, r.ActionKey), r.Package)
		}
		if r.State == event.StateBuilt && r.Duration > 0 && !strings.ContainsAny(r.Cell, "/\x00") {
			write(durationPath(st, r.Cell), strconv.FormatFloat(r.Duration.Seconds(), 'f', 1, 64))
		}
	}
	return errors.Join(errs...)
}

// PreviousDuration is how long the last build of cell took (0 when no
// build of it was recorded): the basis of build ETAs.
func PreviousDuration(st *store.Store, cell string) time.Duration {
	if strings.ContainsAny(cell, "/\x00") {
		return 0
	}
	b, err := os.ReadFile(durationPath(st, cell))
	if err != nil {
		return 0
	}
	s, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// Fetch fetches every input the cells matching patterns (or the default
// cells) need, from a lock that is up to date, and returns them.
func (a *App) Fetch(ctx context.Context, patterns []string, sink event.Sink) ([]lock.Input, error) {
	g, err := a.Graph(ctx, patterns, false)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore()
	if err != nil {
		return nil, err
	}
	if err := st.Register(a.LockPath, nil); err != nil {
		return nil, err
	}
	f, err := Fetcher(g.Manifest, st, 8, false, sink)
	if err != nil {
		return nil, err
	}
	return g.Inputs, f.Fetch(ctx, g.Inputs)
}

// LogTail returns the last n lines of the log at path, reading at most
// its last 256 kB.
func LogTail(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	const window = 256 << 10
	off := max(0, fi.Size()-window)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line is cut
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n"), nil
}
