package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// Graph is what building a selection of cells takes: the engine's nodes
// (an extension cell's parent Postgres cell is added, built but not
// verified, when it was not selected) and the locked inputs they need.
type Graph struct {
	Manifest  *manifest.Manifest
	Lock      *lock.Lock
	LockBytes []byte
	// Roots are the lock's toolchain layers (shared by every use in a run:
	// its root requests are memoized).
	Roots *toolchains.Resolved
	Nodes []build.Node
	// Inputs are every input the nodes need in the store, sorted by name;
	// Needs lists them per cell.
	Inputs []lock.Input
	Needs  map[string][]lock.Input
}

// Options are the settings of a build or verify run.
type Options struct {
	Jobs, MakeJobs int
	KeepGoing      bool
	Out            string // receives CELL.tar.zst and CELL.json; "" for none
	Offline        bool   // fetch from the store and distdirs only
	// Scratch is build.Config.ScratchDir: where build trees go ("": the
	// store's tmp).
	Scratch string
	// Evidence is build.Config.Evidence: called for every package
	// published into Out (internal/cli writes SBOMs and provenance).
	Evidence func(cell string, r *build.Result) error
	// Remote and RemoteOnly are build.Config's: the shared cache
	// (internal/cli builds it from --remote-cache and the manifest).
	Remote     build.RemoteCache
	RemoteOnly bool
}

// Graph selects the cells matching patterns (or the default cells) from a
// lock that is up to date with the manifest, and computes what they need.
// verify marks the selected cells to be verified.
func (a *App) Graph(ctx context.Context, patterns []string, verify bool) (*Graph, error) {
	m, cells, req, err := a.selectCells(patterns)
	if err != nil {
		return nil, err
	}
	lockBytes, l, err := ReadLock(a.LockPath)
	if err != nil {
		return nil, fmt.Errorf("%v (run `monogres lock` first)", err)
	}
	if reasons, _, err := lock.Check(ctx, m, l); err != nil {
		return nil, err
	} else if len(reasons) > 0 {
		return nil, fmt.Errorf("%s is out of date (%s): run `monogres lock`", a.LockPath, reasons[0])
	}
	g := &Graph{Manifest: m, Lock: l, LockBytes: lockBytes, Needs: map[string][]lock.Input{}}
	added := map[string]int{} // cell → index in g.Nodes
	add := func(c build.Cell, verify bool) {
		if i, ok := added[c.Name]; ok {
			g.Nodes[i].Verify = g.Nodes[i].Verify || verify
			return
		}
		added[c.Name] = len(g.Nodes)
		g.Nodes = append(g.Nodes, build.Node{Cell: c, Verify: verify})
	}
	selected := map[string]bool{}
	for _, c := range cells {
		selected[c.Name] = true
	}
	for _, c := range cells {
		bc, err := a.cell(m, c, l, req)
		if err != nil {
			return nil, err
		}
		if bc.Extension != nil && !selected[bc.Extension.Parent] {
			parent, err := a.cell(m, parentOf(m, c), l, req)
			if err != nil {
				return nil, err
			}
			add(parent, false)
		}
		rcs, err := req.requires(m, c)
		if err != nil {
			return nil, err
		}
		for _, rc := range rcs {
			rbc, err := a.cell(m, rc, l, req)
			if err != nil {
				return nil, err
			}
			add(rbc, false)
		}
		add(bc, verify)
	}
	need := map[string]lock.Input{}
	g.Roots = toolchains.FromLock(l)
	for _, n := range g.Nodes {
		ins := CellInputs(g.Roots, n.Cell)
		g.Needs[n.Cell.Name] = ins
		for _, in := range ins {
			need[in.Name] = in
		}
	}
	for _, in := range need {
		g.Inputs = append(g.Inputs, in)
	}
	slices.SortFunc(g.Inputs, func(a, b lock.Input) int { return strings.Compare(a.Name, b.Name) })
	return g, nil
}

// parentOf is the Postgres cell an extension cell of the matrix is built
// against; m (nil: none) gives its recipe.
func parentOf(m *manifest.Manifest, c plan.Cell) plan.Cell {
	p := c
	p.Name, p.Extension, p.ExtensionVersion, p.ExtensionInput, p.Build, p.Parent = c.Parent, "", "", "", "", ""
	if m != nil {
		p.Build = string(m.Postgres.Build)
	}
	return p
}

// cell is the engine's view of a matrix cell, with its locked inputs; req
// finds the cells an extension cell requires.
func (a *App) cell(m *manifest.Manifest, c plan.Cell, l *lock.Lock, req requireIndex) (build.Cell, error) {
	src, ok := l.Find(c.Input)
	if !ok {
		return build.Cell{}, fmt.Errorf("%s: input %s is not in %s: run `monogres lock`", c.Name, c.Input, a.LockPath)
	}
	opts := make([]string, len(c.Options))
	for i, o := range c.Options {
		opts[i] = string(o)
	}
	pg := build.Cell{
		Name: c.Name, PostgresVersion: c.Postgres.String(), Major: c.Postgres.Major,
		OptionSet: string(c.OptionSet), Options: opts, Arch: string(c.Arch), Source: src,
	}
	if c.Extension == "" {
		plugin, err := a.pluginInput(c, l)
		return pg.WithRecipe(c.Build, plugin), err
	}
	pg.Name = c.Parent
	esrc, ok := l.Find(c.ExtensionInput)
	if !ok {
		return build.Cell{}, fmt.Errorf("%s: input %s is not in %s: run `monogres lock`", c.Name, c.ExtensionInput, a.LockPath)
	}
	x := build.Extension{Name: c.Extension, Version: c.ExtensionVersion}
	rcs, err := req.requires(m, c)
	if err != nil {
		return build.Cell{}, err
	}
	for _, rc := range rcs {
		x.Requires = append(x.Requires, rc.Name)
		x.RequiredExtensions = append(x.RequiredExtensions, rc.Extension)
	}
	if me := manifestExtension(m, c.Extension); me != nil {
		s := me.ExtensionSettings
		x.Params = me.Params
		x.Settings = build.Settings{
			SharedPreloadLibraries: s.SharedPreloadLibraries, Conf: s.Conf, SmokeSQL: s.SmokeSQL,
			Bundle: s.Bundle || m.Bundle, Regress: s.Regress, RegressReason: s.RegressReason,
		}
		switch c.Build {
		case "pgxs", "", "make":
			x.Settings.Args = s.MakeArgs
		case "configure":
			x.Settings.Args = s.ConfigureArgs
		case "cmake":
			x.Settings.Args = s.CMakeArgs
		}
	}
	plugin, err := a.pluginInput(c, l)
	if err != nil {
		return build.Cell{}, err
	}
	return build.ExtensionCell(c.Name, pg, esrc, x).WithRecipe(c.Build, plugin), nil
}

// pluginInput is the locked plugin input of a cell built with build =
// "plugin:NAME" (zero for other recipes).
func (a *App) pluginInput(c plan.Cell, l *lock.Lock) (lock.Input, error) {
	name, ok := strings.CutPrefix(c.Build, "plugin:")
	if !ok {
		return lock.Input{}, nil
	}
	in, ok := l.Find("plugin/" + name)
	if !ok {
		return lock.Input{}, fmt.Errorf("%s: build = %q but input plugin/%s is not in %s: declare [[plugin]] %s and run `monogres lock`", c.Name, c.Build, name, a.LockPath, name)
	}
	return in, nil
}

// manifestExtension is the manifest's extension name (nil if none).
func manifestExtension(m *manifest.Manifest, name string) *manifest.Extension {
	if m == nil {
		return nil
	}
	for i := range m.Extensions {
		if m.Extensions[i].Name == name {
			return &m.Extensions[i]
		}
	}
	return nil
}

// RootInputs are the locked .debs of the toolchain root that builds c; a
// root the lock dropped has none (the cell fails when it is built, with the
// resolver's reason).
func RootInputs(roots *toolchains.Resolved, c build.Cell) []lock.Input {
	req, err := roots.Request(build.RootCell(c))
	if err != nil {
		return nil
	}
	ins := make([]lock.Input, len(req.Packages))
	for i, p := range req.Packages {
		ins[i] = p.Input()
	}
	return ins
}

// ComposeRoot returns the ToolchainFunc composing (or finding cached) the
// root of a cell from the locked layers and the .debs in the store.
func ComposeRoot(st *store.Store, roots *toolchains.Resolved) build.ToolchainFunc {
	return rootFunc(st, roots, true)
}

// rootFunc is ComposeRoot when compose is set; otherwise it only finds
// roots already composed and fails for the others.
func rootFunc(st *store.Store, roots *toolchains.Resolved, compose bool) build.ToolchainFunc {
	return func(ctx context.Context, c toolchains.Cell) (build.Toolchain, error) {
		req, err := roots.Request(c)
		if err != nil {
			return build.Toolchain{}, fmt.Errorf("%w (run `monogres lock` if the manifest's toolchain changed)", err)
		}
		root, ok := toolchains.Cached(st.Dir(), req)
		if !ok && !compose {
			return build.Toolchain{}, errors.New("toolchain root not composed yet (a build composes it)")
		}
		if !ok {
			open := func(ctx context.Context, p toolchains.Package) (io.ReadCloser, error) { return st.Open(p.SHA256) }
			if root, err = toolchains.ComposeCached(ctx, st.Dir(), req.Packages, open, toolchains.DefaultOptions); err != nil {
				return build.Toolchain{}, err
			}
		}
		return build.Toolchain{Dir: root.Dir, Digest: root.Digest, Packages: toolchains.Names(req.Packages)}, nil
	}
}

// lockedPackage reports whether the lock has the Debian package name in
// some root for arch (a plugin's extra_packages must; the engine checks the
// cell's own root first).
func lockedPackage(l *lock.Lock) func(arch, name string) bool {
	return func(arch, name string) bool {
		for _, in := range l.Inputs {
			if in.Kind == lock.KindDeb && strings.HasSuffix(in.Name, "/"+name) && slices.ContainsFunc(in.Roots, func(r string) bool { return r == arch || strings.HasPrefix(r, arch+"~") }) {
				return true
			}
		}
		return false
	}
}

// SandboxLimits are the manifest's [limits] for the sandbox; what it
// leaves out stays zero, which the sandbox fills from
// sandbox.DefaultLimits.
func SandboxLimits(l manifest.Limits) sandbox.Limits {
	return sandbox.Limits{
		Processes: l.Processes,
		Memory:    int64(l.Memory),
		CPUTime:   time.Duration(l.CPUTime),
		WallClock: time.Duration(l.WallClock),
		Tmpfs:     int64(l.Tmpfs),
	}
}

// config is the engine configuration of a run of g.
func config(g *Graph, st *store.Store, o Options, sink event.Sink) build.Config {
	sum := sha256.Sum256(g.LockBytes)
	return build.Config{
		Store:         st,
		Toolchain:     ComposeRoot(st, g.Roots),
		OutDir:        o.Out,
		Jobs:          o.Jobs,
		MakeJobs:      o.MakeJobs,
		ScratchDir:    o.Scratch,
		KeepGoing:     o.KeepGoing,
		LockDigest:    "sha256:" + hex.EncodeToString(sum[:]),
		Sink:          sink,
		LockedPackage: lockedPackage(g.Lock),
		Limits:        SandboxLimits(g.Manifest.Limits),
		Evidence:      o.Evidence,
		Remote:        o.Remote,
		RemoteOnly:    o.RemoteOnly,
	}
}

// Build fetches what g needs, then builds (and verifies) its nodes in one
// engine run. Results are in the order of g.Nodes.
func (a *App) Build(ctx context.Context, g *Graph, o Options, sink event.Sink) ([]build.Result, error) {
	st, err := OpenStore()
	if err != nil {
		return nil, err
	}
	if err := st.Register(a.LockPath, nil); err != nil {
		return nil, err
	}
	f, err := Fetcher(g.Manifest, st, 8, o.Offline, sink)
	if err != nil {
		return nil, err
	}
	if err := f.Fetch(ctx, g.Inputs); err != nil {
		return nil, err
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, err
		}
	}
	results, err := build.Run(ctx, config(g, st, o, sink), g.Nodes)
	if rerr := RecordResults(st, results); rerr != nil && err == nil {
		err = rerr
	}
	// The action keys of the cells built or found cached are recorded
	// under this lock's store registration, so `store gc` keeps their
	// packages and logs.
	actions := map[string]string{}
	for _, r := range results {
		if r.ActionKey != "" && r.Package != "" {
			actions[r.Cell] = r.ActionKey
		}
	}
	if len(actions) > 0 {
		if rerr := st.Register(a.LockPath, actions); rerr != nil && err == nil {
			err = rerr
		}
	}
	return results, err
}

// DryRun reports for every node of g its action key, whether the action
// cache has it and which inputs are missing from the store, without
// fetching or building anything.
func (a *App) DryRun(ctx context.Context, g *Graph) ([]build.Planned, error) {
	st, err := OpenStore()
	if err != nil {
		return nil, err
	}
	missing := map[string][]string{}
	for _, n := range g.Nodes {
		for _, in := range g.Needs[n.Cell.Name] {
			if !st.Has(in.SHA256) {
				missing[n.Cell.Name] = append(missing[n.Cell.Name], in.Name)
			}
		}
	}
	return build.DryRun(ctx, config(g, st, Options{}, nil), g.Nodes, missing)
}

// PrepareCell plans one cell the way a build does (build.Prepare: same
// request, lock check, source, an extension's parent package) after
// fetching what it needs; `monogres plugin run --cell` prints the result.
// The caller removes Prepared.Dir when it is set.
func (a *App) PrepareCell(ctx context.Context, name string, sink event.Sink) (build.Cell, build.Prepared, error) {
	g, err := a.Graph(ctx, []string{name}, false)
	if err != nil {
		return build.Cell{}, build.Prepared{}, err
	}
	// The graph holds the selected cells and what they depend on.
	var matched []build.Cell
	byName := map[string]build.Cell{}
	for _, node := range g.Nodes {
		byName[node.Cell.Name] = node.Cell
		if plan.Match([]string{name}, node.Cell.Name) {
			matched = append(matched, node.Cell)
		}
	}
	if len(matched) != 1 {
		return build.Cell{}, build.Prepared{}, fmt.Errorf("plugin run --cell: %q selects %d cells; give one cell such as pg_rational~0.0.2~postgres~15.18~regular~amd64", name, len(matched))
	}
	c := matched[0]
	var deps []build.Cell
	for _, d := range c.Deps() {
		deps = append(deps, byName[d])
	}
	st, err := OpenStore()
	if err != nil {
		return c, build.Prepared{}, err
	}
	f, err := Fetcher(g.Manifest, st, 8, false, sink)
	if err != nil {
		return c, build.Prepared{}, err
	}
	if err := f.Fetch(ctx, g.Inputs); err != nil {
		return c, build.Prepared{}, err
	}
	prep, err := build.Prepare(ctx, config(g, st, Options{Jobs: 1, MakeJobs: 2}, sink), deps, c)
	return c, prep, err
}
