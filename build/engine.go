package build

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
	"sync"
	"time"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
)

type engine struct {
	cfg     Config
	scratch string
	build   event.Emitter
	verify  event.Emitter
	// sde caches derived SOURCE_DATE_EPOCHs by archive sha256.
	sdeMu sync.Mutex
	sde   map[string]int64
	// trees are the sources recipes plan from, extracted once per run.
	treesMu sync.Mutex
	trees   map[string]*planTree
}

// planTree is a source extracted once per run for recipes to plan from
// (read-only), shared by every cell of that source: keying 1,000 cells of
// one extension version extracts it once. A cell that builds still
// extracts its own copy and applies its plan there (stage).
type planTree struct {
	once sync.Once
	dir  string // the extracted tree; its parent is removed by close
	err  error
}

func newEngine(cfg Config) (*engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("build: Config.Store is nil")
	}
	if cfg.Toolchain == nil {
		return nil, errors.New("build: Config.Toolchain is nil")
	}
	if cfg.Executor == nil {
		cfg.Executor = Local{}
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = 1
	}
	if cfg.MakeJobs <= 0 {
		cfg.MakeJobs = 2
	}
	scratch := cfg.ScratchDir
	if scratch == "" {
		scratch = cfg.Store.TmpDir()
	}
	return &engine{
		cfg: cfg, scratch: scratch, sde: map[string]int64{}, trees: map[string]*planTree{},
		build:  event.Emitter{Sink: cfg.Sink, Phase: event.PhaseBuild, Now: cfg.Now},
		verify: event.Emitter{Sink: cfg.Sink, Phase: event.PhaseVerify, Now: cfg.Now},
	}, nil
}

// close removes the trees recipes planned from.
func (e *engine) close() {
	e.treesMu.Lock()
	defer e.treesMu.Unlock()
	for k, t := range e.trees {
		if t.dir != "" {
			os.RemoveAll(filepath.Dir(t.dir))
		}
		delete(e.trees, k)
	}
}

// planSource is the tree p's recipe plans from: p's source extracted the
// way stageSource extracts it, once per run.
func (e *engine) planSource(ctx context.Context, p *prepared) (string, error) {
	c := p.cell
	opts := sourceOptions(c, p.sde)
	key := fmt.Sprintf("%s\x00%s\x00%d", c.Source.SHA256, opts.StripPrefix, opts.Mtime.Unix())
	e.treesMu.Lock()
	t := e.trees[key]
	if t == nil {
		t = &planTree{}
		e.trees[key] = t
	}
	e.treesMu.Unlock()
	t.once.Do(func() {
		dir, err := os.MkdirTemp(e.scratch, "plan-"+shortName(c.Name)+"-")
		if err != nil {
			t.err = fmt.Errorf("scratch dir: %w", err)
			return
		}
		t.dir = filepath.Join(dir, "src")
		if err := archive.Extract(ctx, p.src, t.dir, opts); err != nil {
			t.err = fmt.Errorf("extracting %s: %w", c.Source.Name, err)
		}
	})
	return t.dir, t.err
}

func (e *engine) emitter(n Node) event.Emitter {
	if n.Verify {
		return e.verify
	}
	return e.build
}

// runOpts say how one action runs.
type runOpts struct {
	jobs    int
	scratch string
	bypass  bool // ignore and do not write the action cache (a verify rebuild)
	em      event.Emitter
	started *bool // Started was emitted for the node
}

// node builds (and, for a Verify node, verifies) one cell; deps are the
// results of its dependencies.
func (e *engine) node(ctx context.Context, n Node, deps []Result) Result {
	started := false
	o := runOpts{jobs: e.cfg.MakeJobs, scratch: e.scratch, em: e.emitter(n), started: &started}
	ref := e.action(ctx, n.Cell, deps, o)
	if !n.Verify || ref.State == event.StateFailed {
		return ref
	}
	o.jobs, o.scratch, o.bypass = e.cfg.MakeJobs+1, filepath.Join(e.scratch, "verify"), true
	again := e.action(ctx, n.Cell, deps, o)
	if again.State == event.StateFailed {
		return again
	}
	return e.compare(n.Cell, ref, again)
}

// sourceDateEpoch is the cell's SOURCE_DATE_EPOCH: from the lock, or the
// newest mtime in the archive (remembered in <store>/ac/sde/<sha256>).
func (e *engine) sourceDateEpoch(ctx context.Context, c Cell, path string) (int64, error) {
	if c.Source.SourceDateEpoch != 0 {
		return c.Source.SourceDateEpoch, nil
	}
	e.sdeMu.Lock()
	defer e.sdeMu.Unlock()
	if v, ok := e.sde[c.Source.SHA256]; ok {
		return v, nil
	}
	memo := filepath.Join(e.cfg.Store.ACDir(), "sde", c.Source.SHA256)
	if b, err := os.ReadFile(memo); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			e.sde[c.Source.SHA256] = v
			return v, nil
		}
	}
	v, err := archive.SourceDateEpoch(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("build: cell %s: SOURCE_DATE_EPOCH of %s: %w", c.Name, c.Source.Name, err)
	}
	if os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		_ = os.WriteFile(memo, []byte(strconv.FormatInt(v, 10)+"\n"), 0o644)
	}
	e.sde[c.Source.SHA256] = v
	return v, nil
}

// prepared is a cell with its action computed; stage extracts its source
// into dir/src and applies its plan there.
type prepared struct {
	cell        Cell
	parent      Result   // an extension's Postgres cell
	requires    []Result // and the extension cells of Extension.Requires
	scratch     string   // where dir is created
	dir         string   // scratch dir of this run, created by stageSource
	src         string   // the source archive, checked in the store
	sde         int64
	tc          Toolchain
	req         sdk.Request
	plan        *sdk.Plan
	staged      bool // the source is extracted in dir/src (stage)
	planApplied bool // and the plan's files and patches are applied
	applied     []plugins.Applied
	planLog     []byte // a plugin's stderr
	action      Action
	key         string
}

// prepare computes the action of c, whose dependencies (c.Deps()) gave
// deps; its scratch dir, created below o.scratch when the cell is staged,
// is p.dir. The caller removes p.dir.
func (e *engine) prepare(ctx context.Context, c Cell, deps []Result, o runOpts) (p prepared, err error) {
	p = prepared{cell: c, scratch: o.scratch}
	if c.Extension == nil {
		if err := checkCell(c); err != nil {
			return p, err
		}
	} else {
		if len(deps) != 1+len(c.Extension.Requires) {
			return p, fmt.Errorf("build: cell %s: %d dependency results for %d dependencies", c.Name, len(deps), 1+len(c.Extension.Requires))
		}
		p.parent, p.requires = deps[0], deps[1:]
		for i, d := range c.Deps() {
			if deps[i].Package == "" {
				return p, fmt.Errorf("build: cell %s: cell %s has no package", c.Name, d)
			}
		}
	}
	src, err := e.cfg.Store.Check(c.Source.SHA256)
	if err != nil {
		return p, fmt.Errorf("build: cell %s: source %s: %w", c.Name, c.Source.Name, err)
	}
	p.src = src
	if p.sde, err = e.sourceDateEpoch(ctx, c, src); err != nil {
		return p, err
	}
	if p.tc, err = e.cfg.Toolchain(ctx, RootCell(c)); err != nil {
		return p, fmt.Errorf("build: cell %s: toolchain root: %w", c.Name, err)
	}
	if err := os.MkdirAll(o.scratch, 0o755); err != nil {
		return p, fmt.Errorf("build: cell %s: scratch dir: %w", c.Name, err)
	}
	p.req = Request(c)
	p.req.SourceDateEpoch = p.sde
	plan, err := e.plan(ctx, &p)
	if err != nil {
		return p, err
	}
	if p.action, err = newAction(c, p.tc.Digest, packages(deps), p.sde, plan); err != nil {
		return p, err
	}
	p.key = p.action.Key()
	return p, nil
}

// recipe returns the recipe of cell c: the built-in PostgresRecipe, an
// extension kind (pgxs, configure, cmake, make: package plugins), or a
// wasm plugin compiled from its bytes in the store (the compile cache
// lives in <store>/plugins). close releases it.
func (e *engine) recipe(ctx context.Context, c Cell, sde int64, stderr io.Writer) (r plugins.Recipe, close func(), err error) {
	x := c.Extension
	switch {
	case x == nil && c.Recipe == "":
		return PostgresRecipe{}, func() {}, nil
	case x != nil && (c.Recipe == "pgxs" || c.Recipe == ""):
		return plugins.PGXS{MakeArgs: x.Args}, func() {}, nil // sdk.PGXS names a cross target's compiler
	case x != nil && c.Recipe == "configure":
		return plugins.Configure{Args: x.Args}, func() {}, nil
	case x != nil && c.Recipe == "cmake":
		return plugins.CMake{Args: x.Args}, func() {}, nil
	case x != nil && c.Recipe == "make":
		return plugins.Make{MakeArgs: x.Args}, func() {}, nil
	case strings.HasPrefix(c.Recipe, "plugin:"):
		name := strings.TrimPrefix(c.Recipe, "plugin:")
		if c.Plugin.SHA256 == "" {
			return nil, nil, fmt.Errorf("build: cell %s: build = %q but the cell has no plugin input plugin/%s (run `monogres lock`)", c.Name, c.Recipe, name)
		}
		if !e.cfg.Store.Has(c.Plugin.SHA256) {
			return nil, nil, fmt.Errorf("build: cell %s: plugin %s (sha256 %s) is not in the store %s; run `monogres fetch`", c.Name, c.Plugin.Name, c.Plugin.SHA256, e.cfg.Store.Dir())
		}
		wasm, err := os.ReadFile(e.cfg.Store.Path(c.Plugin.SHA256))
		if err != nil {
			return nil, nil, fmt.Errorf("build: cell %s: plugin %s: %w", c.Name, c.Plugin.Name, err)
		}
		opts := e.cfg.Plugin
		opts.CacheDir = filepath.Join(e.cfg.Store.Dir(), "plugins")
		opts.SourceDateEpoch = sde
		opts.TempDir = e.scratch
		h, err := plugins.NewHost(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("build: cell %s: %w", c.Name, err)
		}
		closeHost := func() { h.Close(context.WithoutCancel(ctx)) }
		m, err := h.Compile(ctx, name, wasm, c.Plugin.SHA256)
		if err != nil {
			closeHost()
			return nil, nil, fmt.Errorf("build: cell %s: %w", c.Name, err)
		}
		return plugins.Wasm{Host: h, Module: m, Stderr: stderr}, closeHost, nil
	}
	if x == nil {
		return nil, nil, fmt.Errorf("build: cell %s: build = %q: Postgres cells build with the built-in recipe or \"plugin:NAME\"", c.Name, c.Recipe)
	}
	return nil, nil, fmt.Errorf("build: cell %s: build = %q: extension cells build with \"pgxs\", \"configure\", \"cmake\", \"make\" or \"plugin:NAME\"", c.Name, c.Recipe)
}

// plan runs the recipe of p.cell and checks its plan. Every recipe but the
// built-in Postgres one plans from the source tree (planSource); the
// plan's files and patches are applied to the cell's own staged source in
// stage.
func (e *engine) plan(ctx context.Context, p *prepared) (sdk.Plan, error) {
	c := p.cell
	var stderr bytes.Buffer
	r, done, err := e.recipe(ctx, c, p.sde, &stderr)
	if err != nil {
		return sdk.Plan{}, err
	}
	defer done()
	var src fs.FS = emptyFS{}
	if _, builtin := r.(PostgresRecipe); !builtin {
		dir, err := e.planSource(ctx, p)
		if err != nil {
			return sdk.Plan{}, fmt.Errorf("build: cell %s: %w", c.Name, err)
		}
		src = os.DirFS(dir)
	}
	plan, err := r.Plan(ctx, p.req, src)
	p.planLog = stderr.Bytes()
	name := RecipeName(c)
	if err != nil {
		return plan, fmt.Errorf("build: cell %s: recipe %s: %w%s", c.Name, name, err, logNote(p.planLog))
	}
	p.plan = &plan
	locked := func(pkg string) bool {
		if p.tc.Packages != nil {
			return slices.Contains(p.tc.Packages, pkg) // in this cell's root
		}
		return e.cfg.LockedPackage != nil && e.cfg.LockedPackage(c.Arch, pkg)
	}
	if err := plugins.ValidatePlan(plan, p.req.Paths.Prefix, locked); err != nil {
		return plan, fmt.Errorf("build: cell %s: recipe %s returned an unusable plan: %w", c.Name, name, err)
	}
	return plan, nil
}

// applyPlan writes the plan's files and applies its patches to the staged
// source (once), recording what changed in p.applied.
func (p *prepared) applyPlan() error {
	if p.planApplied {
		return nil
	}
	var err error
	if p.applied, err = plugins.ApplyPlan(filepath.Join(p.dir, "src"), *p.plan); err != nil {
		return fmt.Errorf("applying the plan of recipe %s: %w", RecipeName(p.cell), err)
	}
	p.planApplied = true
	return nil
}

// RecipeName names c's recipe in messages: its Recipe, else "postgres"
// (the built-in Postgres recipe) or "pgxs".
func RecipeName(c Cell) string {
	switch {
	case c.Recipe != "":
		return c.Recipe
	case c.Extension == nil:
		return "postgres"
	}
	return "pgxs"
}

// stageSource creates p.dir and extracts the cell's source into p.dir/src
// (once). An
// extension's files all get SOURCE_DATE_EPOCH as mtime; a Postgres source
// keeps the archive's (its generated files, such as gram.c, must stay
// newer than their sources, or make would regenerate them).
func (p *prepared) stageSource(ctx context.Context) error {
	if p.staged {
		return nil
	}
	c := p.cell
	if p.dir == "" {
		dir, err := os.MkdirTemp(p.scratch, "build-"+shortName(c.Name)+"-")
		if err != nil {
			return fmt.Errorf("scratch dir: %w", err)
		}
		p.dir = dir
	}
	if err := archive.Extract(ctx, p.src, filepath.Join(p.dir, "src"), sourceOptions(c, p.sde)); err != nil {
		return fmt.Errorf("extracting %s: %w", c.Source.Name, err)
	}
	p.staged = true
	return nil
}

// sourceOptions say how c's source is extracted: an extension's files all
// get SOURCE_DATE_EPOCH (sde) as mtime, a Postgres source keeps the
// archive's.
func sourceOptions(c Cell, sde int64) archive.Options {
	opts := archive.Options{StripPrefix: c.Source.StripPrefix}
	if c.Extension != nil {
		opts.Mtime = time.Unix(sde, 0)
	}
	return opts
}

// emptyFS is the source tree the built-in Postgres recipe gets: it plans
// from the request alone.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func logNote(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if len(b) > 2048 {
		b = append([]byte("..."), b[len(b)-2048:]...)
	}
	return "\nplugin stderr:\n\t" + strings.ReplaceAll(string(b), "\n", "\n\t")
}

// packages are the package digests of results.
func packages(results []Result) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.Package
	}
	return out
}

// action builds one cell or finds it in the action cache.
func (e *engine) action(ctx context.Context, c Cell, deps []Result, o runOpts) (r Result) {
	p, err := e.prepare(ctx, c, deps, o)
	defer func() {
		if p.dir != "" && (r.State != event.StateFailed || !e.cfg.KeepScratch) {
			os.RemoveAll(p.dir)
		}
	}()
	if err != nil {
		return Result{State: event.StateFailed, ActionKey: p.key, Err: err}
	}
	if !o.bypass {
		hit, ok, err := e.lookup(ctx, c, p.key)
		if err != nil {
			return Result{State: event.StateFailed, ActionKey: p.key, Err: err}
		}
		if !ok && e.cfg.RemoteOnly {
			return Result{State: event.StateFailed, ActionKey: p.key, Err: fmt.Errorf("build: cell %s: action %s is in neither the local nor the remote cache (not built: substitution only)", c.Name, p.key)}
		}
		if ok {
			r = Result{State: event.StateCached, ActionKey: p.key, Package: hit.Package, Manifest: hit.Manifest, Log: hit.Log}
			if err := e.publish(c.Name, &r, ""); err != nil {
				r.State, r.Err = event.StateFailed, err
			}
			return r
		}
	}
	return e.run(ctx, &p, o)
}

// run executes a prepared action: stage the inputs, build, collect the
// install, package, smoke test, record. Staging sets p.dir, which the
// caller removes.
func (e *engine) run(ctx context.Context, p *prepared, o runOpts) Result {
	c := p.cell
	if !*o.started {
		*o.started = true
		o.em.Started(c.Name) // front ends show it as building
	}
	r := Result{State: event.StateFailed, ActionKey: p.key}
	logPath := LogPath(e.cfg.Store, p.key)
	if o.bypass {
		logPath = strings.TrimSuffix(logPath, ".log") + ".verify.log"
	}
	r.Log = logPath
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		r.Err = fmt.Errorf("build: cell %s: %w", c.Name, err)
		return r
	}
	logf, err := os.Create(logPath)
	if err != nil {
		r.Err = fmt.Errorf("build: cell %s: %w", c.Name, err)
		return r
	}
	defer logf.Close()
	lw := &LineWriter{Emit: func(l string) { o.em.Log(c.Name, l) }}
	out := io.MultiWriter(logf, lw)
	failed := func(step string, err error) Result {
		lw.Flush()
		tail := TailFile(logPath, 25)
		// The last line says why, for reports read after the run.
		first, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(logf, "%s%s: %s\n", FailedPrefix, step, first)
		logf.Sync()
		r.Err = fmt.Errorf("build: cell %s: %s: %w\nlog %s ends with:\n%s", c.Name, step, err, logPath, tail)
		return r
	}
	fmt.Fprintf(out, "monogres: cell %s action %s\nmonogres: toolchain root %s (digest %s)\n", c.Name, p.key, p.tc.Dir, p.tc.Digest)
	if x := c.Extension; x != nil {
		fmt.Fprintf(out, "monogres: Postgres cell %s package %s at %s\n", x.Parent, p.parent.Package, PGDir)
		for i, r := range p.requires {
			fmt.Fprintf(out, "monogres: required extension cell %s package %s installed at %s\n", x.Requires[i], r.Package, PGDir)
		}
	}
	if c.Recipe != "" || c.Extension != nil {
		fmt.Fprintf(out, "monogres: source %s at %s, recipe %s\n", c.Source.Name, SrcDir, RecipeName(c))
	}
	if len(p.planLog) > 0 {
		fmt.Fprintf(out, "monogres: plugin stderr:\n%s\n", bytes.TrimRight(p.planLog, "\n"))
	}
	t0 := time.Now()
	steps := runSteps(o.bypass || e.cfg.SkipSmoke, o.bypass)
	step := func(name string) { o.em.Step(c.Name, name, slices.Index(steps, name)+1, len(steps)) }
	step("staging inputs")
	mounts, err := e.stage(ctx, p)
	if err != nil {
		return failed("staging the inputs", err)
	}
	for _, a := range p.applied {
		fmt.Fprintf(out, "monogres: plan: %s\n", a)
	}
	if len(p.plan.Package) > 0 {
		fmt.Fprintf(out, "monogres: plan: package %q\n", p.plan.Package)
	}
	fmt.Fprintf(out, "monogres: inputs staged in %v; building with %d jobs in %s\n", time.Since(t0).Round(time.Millisecond), o.jobs, p.dir)
	t0 = time.Now()
	step("building")
	err = e.cfg.Executor.Execute(ctx, Execution{
		// On arm64, an extension's pg_config is an arm64 program, run under qemu.
		Limits: e.cfg.Limits, Root: p.tc.Dir, Binfmt: Emulation(c.Arch), Mounts: mounts, Argv: p.action.Command.Arguments,
		Env: append(p.action.Env(), jobsEnv(c, o.jobs)...), Dir: p.action.Command.WorkingDirectory, Output: out,
	})
	if err != nil {
		return failed("build", err)
	}
	fmt.Fprintf(out, "monogres: built and installed in %v\n", time.Since(t0).Round(time.Millisecond))
	install := filepath.Join(p.dir, "out", "root", filepath.FromSlash(strings.TrimPrefix(Prefix, "/")))
	if c.Extension != nil {
		if install, err = collect(filepath.Join(p.dir, "out"), filepath.Join(p.dir, "pg"), p.plan.Package); err != nil {
			return failed("collecting the install", err)
		}
		if err := CheckSandboxPaths(install); err != nil {
			return failed("checking the install", err)
		}
	}
	rt, err := e.runtime(*p, install, out)
	if err != nil {
		return failed("runtime closure", err)
	}
	t0 = time.Now()
	step("packaging")
	pkg, size, files, err := e.pack(ctx, *p, install)
	if err != nil {
		return failed("packaging", err)
	}
	fmt.Fprintf(out, "monogres: packaged %s in %v: package sha256 %s\n", install, time.Since(t0).Round(time.Millisecond), pkg)
	var reg *RegressResult
	switch {
	case e.cfg.SkipSmoke:
	case o.bypass:
		fmt.Fprintf(out, "monogres: no smoke test for a verify rebuild: its package is compared byte for byte with the smoke-tested one\n")
	default:
		t0 = time.Now()
		step("smoke test")
		fmt.Fprintf(out, "monogres: smoke test (package at %s, uid %d)\n", SmokeDir, SmokeUID)
		if err := e.smoke(ctx, *p, install, pkg, rt, out); err != nil {
			return failed("smoke test", err)
		}
		fmt.Fprintf(out, "monogres: smoke test took %v\n", time.Since(t0).Round(time.Millisecond))
		if c.Extension != nil {
			if reg, err = regressResult(filepath.Join(p.dir, "src"), c.Extension.Settings.withPlan(*p.plan), out); err != nil {
				return failed("regression suite", err)
			}
		}
	}
	man, err := e.manifest(ctx, *p, pkg, size, files, rt.closure, reg)
	if err != nil {
		return failed("manifest", err)
	}
	fmt.Fprintf(out, "monogres: manifest sha256 %s\n", man)
	lw.Flush()
	if err := logf.Close(); err != nil {
		return failed("log", err)
	}
	r.Package, r.Manifest, r.State = pkg, man, event.StateBuilt
	if o.bypass {
		r.PackagePath, r.ManifestPath = e.cfg.Store.Path(pkg), e.cfg.Store.Path(man)
		return r
	}
	step("recording")
	if err := e.share(ctx, ACEntry{Cell: c.Name, ActionKey: p.key, Package: pkg, Manifest: man, Log: logPath}); err != nil {
		r.State, r.Err = event.StateFailed, err
		return r
	}
	if err := e.publish(c.Name, &r, ""); err != nil {
		r.State, r.Err = event.StateFailed, err
	}
	return r
}

// runSteps names the steps run reports (Emitter.Step): a verify rebuild
// has no smoke test and records nothing.
func runSteps(noSmoke, noRecord bool) []string {
	s := []string{"staging inputs", "building", "packaging"}
	if !noSmoke {
		s = append(s, "smoke test")
	}
	if !noRecord {
		s = append(s, "recording")
	}
	return s
}

// FailedPrefix starts the last line of a failed build's log:
// "monogres: FAILED: STEP: first line of the error".
const FailedPrefix = "monogres: FAILED: "

// jobsEnv carries the job count into a build; it is not part of the key.
func jobsEnv(c Cell, jobs int) []string {
	if c.Extension != nil {
		return []string{"MAKEFLAGS=-j" + strconv.Itoa(jobs)}
	}
	return []string{JobsVar + "=" + strconv.Itoa(jobs)}
}

// stage materializes the action's input tree below p.dir and returns its
// mounts: the source (writable: builds run in the tree), an extension's
// parent package (read-only), the work and output dirs and a home.
func (e *engine) stage(ctx context.Context, p *prepared) ([]sandbox.Mount, error) {
	c := p.cell
	if err := p.stageSource(ctx); err != nil {
		return nil, err
	}
	src, work, out := filepath.Join(p.dir, "src"), filepath.Join(p.dir, "work"), filepath.Join(p.dir, "out")
	if err := p.applyPlan(); err != nil {
		return nil, err
	}
	for _, d := range []string{work, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	mounts := []sandbox.Mount{sandbox.BindRW(src, SrcDir), sandbox.BindRW(work, WorkDir), sandbox.BindRW(out, OutDir), sandbox.Tmpfs(HomeDir, 0o755)}
	if c.Extension != nil {
		pg := filepath.Join(p.dir, "pg")
		if err := p.extractDeps(ctx, e.cfg.Store, pg, "pg-"); err != nil {
			return nil, err
		}
		mounts = append(mounts, sandbox.BindRO(pg, PGDir))
	}
	return mounts, nil
}

// extractDeps extracts an extension's parent package into dir and merges
// the packages it requires into it, each extracted below p.dir/tmp+N
// first.
func (p *prepared) extractDeps(ctx context.Context, st *store.Store, dir, tmp string) error {
	if err := archive.Extract(ctx, st.Path(p.parent.Package), dir, archive.Options{}); err != nil {
		return fmt.Errorf("extracting the Postgres package: %w", err)
	}
	for i, r := range p.requires {
		name := p.cell.Extension.Requires[i]
		x := filepath.Join(p.dir, tmp+strconv.Itoa(i))
		if err := archive.Extract(ctx, st.Path(r.Package), x, archive.Options{}); err != nil {
			return fmt.Errorf("extracting the package of %s: %w", name, err)
		}
		if err := merge(x, dir); err != nil {
			return fmt.Errorf("adding the package of %s: %w", name, err)
		}
	}
	return nil
}

// smoke runs the smoke test of a cell's package in the sandbox: the
// install of a Postgres cell; an extension's package extracted together
// with its parent's (and alone at ExtDir), with the built source at SrcDir
// (writable, for its regression suite) and, when the root's
// library owners are known, the root's library directories reduced to
// what rt allows: a library the package needs but did not record (or
// bundle) is missing, and the test fails.
func (e *engine) smoke(ctx context.Context, p prepared, install, pkg string, rt runtimeInfo, out io.Writer) error {
	tree := install
	mounts := []sandbox.Mount{sandbox.Tmpfs(HomeDir, 0o755)}
	if p.cell.Extension != nil {
		tree = filepath.Join(p.dir, "smoke")
		if err := p.extractDeps(ctx, e.cfg.Store, tree, "smoke-dep-"); err != nil {
			return err
		}
		ext := filepath.Join(p.dir, "smoke-ext")
		if err := archive.Extract(ctx, e.cfg.Store.Path(pkg), ext, archive.Options{}); err != nil {
			return err
		}
		only := filepath.Join(p.dir, "smoke-only")
		if err := archive.Extract(ctx, e.cfg.Store.Path(pkg), only, archive.Options{}); err != nil {
			return err
		}
		if err := merge(ext, tree); err != nil {
			return fmt.Errorf("adding the extension package to the Postgres package: %w", err)
		}
		src := filepath.Join(p.dir, "src")
		if err := openTree(src); err != nil {
			return err
		}
		mounts = append(mounts, sandbox.BindRO(only, ExtDir), sandbox.BindRW(src, SrcDir))
		if rt.owners != nil {
			arches := appendNew([]string{nativeArch}, p.cell.Arch)
			allowed := slices.Concat(rt.parent, unbundledLibs(rt.closure))
			vis, err := visibleLibs(filepath.Join(p.dir, "smoke-libs"), p.tc.Dir, arches, allowed, rt.owners)
			if err != nil {
				return fmt.Errorf("library directories of the smoke test: %w", err)
			}
			for _, d := range slices.Sorted(mapKeys(vis)) {
				fmt.Fprintf(out, "monogres: smoke test sees only the recorded libraries in /%s\n", d)
				mounts = append(mounts, sandbox.BindRO(vis[d], "/"+d))
			}
		}
	}
	mounts = append([]sandbox.Mount{sandbox.BindRO(tree, SmokeDir)}, mounts...)
	return e.cfg.Executor.Execute(ctx, Execution{
		Limits: e.cfg.Limits,
		Root:   p.tc.Dir,
		Binfmt: Emulation(p.cell.Arch),
		Mounts: mounts,
		Argv:   []string{"/bin/sh", "-c", p.action.Smoke},
		Env:    sandbox.DefaultEnv(p.sde),
		Dir:    "/tmp",
		UID:    SmokeUID,
		GID:    SmokeUID,
		Output: out,
	})
}

// openTree makes every file and directory below dir writable by anyone
// (the smoke test's uid need not map to any host uid; the scratch dir is
// private to this build).
func openTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | 0o666
		if d.IsDir() {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	})
}

// pack writes the package into the CAS.
func (e *engine) pack(ctx context.Context, p prepared, install string) (pkg string, size int64, files []FileEntry, err error) {
	w, err := e.cfg.Store.Create(ctx, "", 0)
	if err != nil {
		return "", 0, nil, err
	}
	files, err = Pack(ctx, install, p.sde, w)
	if err != nil {
		w.Discard()
		return "", 0, nil, err
	}
	pkg, size, err = w.Commit()
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", 0, nil, err
	}
	return pkg, size, files, nil
}

// manifest writes the package manifest into the CAS.
func (e *engine) manifest(ctx context.Context, p prepared, pkg string, size int64, files []FileEntry, closure []Library, reg *RegressResult) (string, error) {
	c := p.cell
	m := &Manifest{
		Format: ManifestFormat, Cell: c.Name, ActionKey: p.key, LockDigest: e.cfg.LockDigest,
		Source: c.Source.Name, SourceSHA256: c.Source.SHA256, SourceDateEpoch: p.sde,
		Prefix: Prefix, Compression: Compression, Package: pkg, Size: size, Files: files,
		Runtime: closure, RuntimePackages: RuntimePackages(closure), Regress: reg,
	}
	m.Recipe, m.PluginSHA256 = c.Recipe, c.Plugin.SHA256
	if x := c.Extension; x != nil {
		m.Extension, m.ExtensionVersion = x.Name, x.Version
		m.Parent, m.ParentPackage = x.Parent, p.parent.Package
		for i, r := range p.requires {
			m.Requires = append(m.Requires, Required{Cell: x.Requires[i], Package: r.Package})
		}
	}
	return e.putBytes(ctx, EncodeManifest(m))
}

func (e *engine) putBytes(ctx context.Context, b []byte) (string, error) {
	w, err := e.cfg.Store.Create(ctx, "", 0)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(b); err != nil {
		w.Discard()
		return "", err
	}
	sha, _, err := w.Commit()
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return sha, nil
}

// publish links the package and manifest into OutDir as
// <name><suffix>.tar.zst and .json and fills the result's paths. It is
// the step after which a cell's package exists for users.
func (e *engine) publish(name string, r *Result, suffix string) error {
	r.PackagePath, r.ManifestPath = e.cfg.Store.Path(r.Package), e.cfg.Store.Path(r.Manifest)
	if e.cfg.OutDir == "" {
		return nil
	}
	if err := os.MkdirAll(e.cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("build: output dir: %w", err)
	}
	pp := filepath.Join(e.cfg.OutDir, name+suffix+".tar.zst")
	mp := filepath.Join(e.cfg.OutDir, name+suffix+".json")
	if err := LinkOrCopy(r.PackagePath, pp); err != nil {
		return err
	}
	if err := LinkOrCopy(r.ManifestPath, mp); err != nil {
		return err
	}
	r.PackagePath, r.ManifestPath = pp, mp
	if e.cfg.Evidence != nil && suffix == "" {
		return e.cfg.Evidence(name, r) // SBOM and provenance beside the package
	}
	return nil
}

// LinkOrCopy makes dst the same file as src: a hard link, or a copy
// across devices; dst is replaced atomically.
func LinkOrCopy(src, dst string) error {
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			return nil
		}
	}
	tmp := dst + ".tmp"
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		in, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		defer in.Close()
		f, err := os.Create(tmp)
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		if _, err := io.Copy(f, in); err != nil {
			f.Close()
			return fmt.Errorf("build: writing %s: %w", tmp, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("build: writing %s: %w", tmp, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// shortName makes a cell name usable in a directory name.
func shortName(name string) string {
	return strings.NewReplacer("~", "-", "/", "-").Replace(name)
}

// TailFile returns the last n lines of a file, indented for an error message.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// LineWriter turns written bytes into one Emit call per line; Flush emits
// what is left.
type LineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	Emit func(string)
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			if w.buf.Len() > 64<<10 { // an endless line: emit what we have
				w.Emit(w.buf.String())
				w.buf.Reset()
			}
			return len(p), nil
		}
		w.Emit(string(w.buf.Next(i + 1)[:i]))
	}
}

// Flush emits a last unterminated line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.Emit(w.buf.String())
		w.buf.Reset()
	}
}
