package extension

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
	"github.com/monogres/monogres/toolchains"
)

// Build builds the parent Postgres cells of cells (build.Build: cached ones
// are not rebuilt), then every extension cell whose parent succeeded,
// cfg.Jobs at a time: a cell whose action is in the action cache is not
// rebuilt; every other one is planned by its recipe, built and installed in
// the sandbox, smoke-tested, packaged into the store and recorded. Results
// are in the order of cells; the error joins the failures.
func Build(ctx context.Context, cfg Config, cells []Cell) ([]build.Result, error) {
	e, err := newEngine(cfg, event.PhaseBuild)
	if err != nil {
		return nil, err
	}
	return e.schedule(ctx, cells, func(ctx context.Context, c Cell, parent build.Result) build.Result {
		return e.build(ctx, c, parent, runOpts{jobs: e.cfg.MakeJobs, scratch: e.scratch})
	})
}

// Verify rebuilds every extension cell bypassing the action cache (in
// another scratch path, with another job count) and compares the package
// digest with the cached build, building that first if needed. The rebuild
// skips the smoke test: its bytes are compared with the tested package. The parent
// Postgres cells are inputs here, built or taken from the cache, not
// verified themselves (verify them as Postgres cells).
func Verify(ctx context.Context, cfg Config, cells []Cell) ([]build.Result, error) {
	e, err := newEngine(cfg, event.PhaseVerify)
	if err != nil {
		return nil, err
	}
	return e.schedule(ctx, cells, func(ctx context.Context, c Cell, parent build.Result) build.Result {
		ref := e.build(ctx, c, parent, runOpts{jobs: e.cfg.MakeJobs, scratch: e.scratch})
		if ref.State == event.StateFailed {
			return ref
		}
		again := e.build(ctx, c, parent, runOpts{jobs: e.cfg.MakeJobs + 1, scratch: filepath.Join(e.scratch, "verify"), bypass: true})
		if again.State == event.StateFailed {
			return again
		}
		r := ref
		r.Rebuilt = again.Package
		if again.Package == ref.Package {
			r.State = event.StateVerified
			return r
		}
		ma, errA := e.readManifest(ref.Manifest)
		mb, errB := e.readManifest(again.Manifest)
		if err := errors.Join(errA, errB); err != nil {
			r.State, r.Err = event.StateFailed, err
			return r
		}
		r.Diff = build.DiffFiles(ma.Files, mb.Files)
		var s strings.Builder
		fmt.Fprintf(&s, "extension: verify %s: not reproducible: package sha256 %s (cached build) != %s (rebuild)", c.Name, ref.Package, again.Package)
		for k, d := range r.Diff {
			if k == 50 {
				fmt.Fprintf(&s, "\n  ... and %d more files", len(r.Diff)-k)
				break
			}
			fmt.Fprintf(&s, "\n  %s: sha256 %.16s | %.16s", d.Path, d.A.SHA256, d.B.SHA256)
		}
		fmt.Fprintf(&s, "\n  look deeper with: diffoscope %s %s", e.cfg.Store.Path(ref.Package), e.cfg.Store.Path(again.Package))
		r.State, r.Err = event.StateFailed, errors.New(s.String())
		return r
	})
}

type engine struct {
	cfg     Config
	em      event.Emitter
	scratch string
}

type runOpts struct {
	jobs    int
	scratch string
	bypass  bool // ignore and do not write the action cache
}

func newEngine(cfg Config, phase event.Phase) (*engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("extension: Config.Store is nil")
	}
	if cfg.Toolchain == nil {
		return nil, errors.New("extension: Config.Toolchain is nil")
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
	return &engine{cfg: cfg, em: event.Emitter{Sink: cfg.Sink, Phase: phase, Now: cfg.Now}, scratch: scratch}, nil
}

// schedule builds the distinct parents with build.Build, then runs fn for
// every cell whose parent succeeded.
func (e *engine) schedule(ctx context.Context, cells []Cell, fn func(context.Context, Cell, build.Result) build.Result) ([]build.Result, error) {
	seen := map[string]bool{}
	var parents []build.Cell
	for _, c := range cells {
		if seen[c.Name] {
			return nil, fmt.Errorf("extension: cell %s given twice", c.Name)
		}
		seen[c.Name] = true
	}
	pidx := map[string]int{}
	for _, c := range cells {
		if _, ok := pidx[c.Parent.Name]; !ok {
			pidx[c.Parent.Name] = len(parents)
			parents = append(parents, c.Parent)
		}
	}
	for _, c := range cells {
		e.em.Finished(c.Name, event.StateQueued, nil)
	}
	pcfg := e.cfg.Config
	pcfg.KeepGoing = true // a parent failure is reported on its extension cells
	pres, err := build.Build(ctx, pcfg, parents)
	if pres == nil && err != nil {
		return nil, err
	}
	results := make([]build.Result, len(cells))
	sem := make(chan struct{}, e.cfg.Jobs)
	var stopMu sync.Mutex
	stopped := ""
	var wg sync.WaitGroup
	for i, c := range cells {
		wg.Go(func() {
			fail := func(err error) {
				results[i] = build.Result{Cell: c.Name, State: event.StateFailed, Err: err}
				e.em.Finished(c.Name, event.StateFailed, err)
			}
			parent := pres[pidx[c.Parent.Name]]
			if parent.State == event.StateFailed {
				fail(fmt.Errorf("extension: cell %s: Postgres cell %s failed: %w", c.Name, c.Parent.Name, parent.Err))
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				fail(fmt.Errorf("extension: cell %s not built: %w", c.Name, context.Cause(ctx)))
				return
			}
			defer func() { <-sem }()
			stopMu.Lock()
			s := stopped
			stopMu.Unlock()
			if s != "" {
				fail(fmt.Errorf("extension: cell %s not built: %s failed (keep going to build the rest)", c.Name, s))
				return
			}
			start := time.Now()
			r := fn(ctx, c, parent)
			r.Cell = c.Name
			r.Duration = time.Since(start)
			results[i] = r
			e.em.Finished(c.Name, r.State, r.Err)
			if r.State == event.StateFailed && !e.cfg.KeepGoing {
				stopMu.Lock()
				if stopped == "" {
					stopped = c.Name
				}
				stopMu.Unlock()
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// prepared is a cell with its source staged, its plan made and its action
// computed.
type prepared struct {
	cell    Cell
	parent  build.Result
	dir     string // scratch dir of this run (removed by the caller)
	src     string // staged source tree with the plan applied
	sde     int64
	tc      build.Toolchain
	req     sdk.Request
	plan    sdk.Plan
	applied []plugins.Applied
	planLog []byte // the plugin's stderr
	action  Action
	key     string
}

// Prepared is an extension cell made ready for its sandbox by Prepare.
type Prepared struct {
	// Request is what the recipe was given (Files excepted: the host fills
	// them in).
	Request sdk.Request
	// Plan is the recipe's validated plan; Applied lists what applying it
	// changed in the extracted source.
	Plan    sdk.Plan
	Applied []plugins.Applied
	// PluginStderr is what a plugin wrote to stderr.
	PluginStderr []byte
	// Dir is the scratch dir (the caller removes it); Source is the
	// extracted source tree in it, with the plan applied.
	Dir, Source string
	// ActionKey is the cell's action key; Cached says whether the action
	// cache has it.
	ActionKey string
	Cached    bool
}

// Prepare does for cell c everything a build does before the sandbox runs:
// it builds (or finds cached) the parent Postgres cell, extracts the
// source, builds the recipe's request, runs the recipe, checks its plan
// against the lock and applies it to the extracted tree. `monogres plugin
// run --cell` calls it, so a dry run sees exactly what a build would. The
// caller removes Prepared.Dir, which is set whenever it was created, also
// on error.
func Prepare(ctx context.Context, cfg Config, c Cell) (Prepared, error) {
	e, err := newEngine(cfg, event.PhaseBuild)
	if err != nil {
		return Prepared{}, err
	}
	pcfg := e.cfg.Config
	pres, err := build.Build(ctx, pcfg, []build.Cell{c.Parent})
	if err != nil {
		return Prepared{}, fmt.Errorf("extension: cell %s: Postgres cell %s: %w", c.Name, c.Parent.Name, err)
	}
	p, err := e.prepare(ctx, c, pres[0], runOpts{jobs: e.cfg.MakeJobs, scratch: e.scratch})
	out := Prepared{Request: p.req, Plan: p.plan, Applied: p.applied, PluginStderr: p.planLog, Dir: p.dir, Source: p.src, ActionKey: p.key}
	if err != nil {
		return out, err
	}
	_, out.Cached, err = build.Lookup(e.cfg.Store, p.key)
	return out, err
}

func (e *engine) sourceDateEpoch(ctx context.Context, c Cell, path string) (int64, error) {
	if c.Source.SourceDateEpoch != 0 {
		return c.Source.SourceDateEpoch, nil
	}
	memo := filepath.Join(e.cfg.Store.ACDir(), "sde", c.Source.SHA256)
	if b, err := os.ReadFile(memo); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return v, nil
		}
	}
	v, err := archive.SourceDateEpoch(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("extension: cell %s: SOURCE_DATE_EPOCH of %s: %w", c.Name, c.Source.Name, err)
	}
	if os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		_ = os.WriteFile(memo, []byte(strconv.FormatInt(v, 10)+"\n"), 0o644)
	}
	return v, nil
}

// recipe returns the cell's recipe; a plugin is compiled from its wasm in
// the store (the compile cache lives in <store>/plugins).
func (e *engine) recipe(ctx context.Context, c Cell, sde int64, stderr io.Writer) (plugins.Recipe, func(), error) {
	switch {
	case c.Recipe == "pgxs" || c.Recipe == "":
		return PGXS(c.Parent.Arch), func() {}, nil
	case strings.HasPrefix(c.Recipe, "plugin:"):
		name := strings.TrimPrefix(c.Recipe, "plugin:")
		if c.Plugin.SHA256 == "" {
			return nil, nil, fmt.Errorf("extension: cell %s: build = %q but the cell has no plugin input plugin/%s (run `monogres lock`)", c.Name, c.Recipe, name)
		}
		if !e.cfg.Store.Has(c.Plugin.SHA256) {
			return nil, nil, fmt.Errorf("extension: cell %s: plugin %s (sha256 %s) is not in the store %s; run `monogres fetch`", c.Name, c.Plugin.Name, c.Plugin.SHA256, e.cfg.Store.Dir())
		}
		wasm, err := os.ReadFile(e.cfg.Store.Path(c.Plugin.SHA256))
		if err != nil {
			return nil, nil, fmt.Errorf("extension: cell %s: plugin %s: %w", c.Name, c.Plugin.Name, err)
		}
		opts := e.cfg.Plugin
		opts.CacheDir = filepath.Join(e.cfg.Store.Dir(), "plugins")
		opts.SourceDateEpoch = sde
		opts.TempDir = e.scratch
		h, err := plugins.NewHost(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("extension: cell %s: %w", c.Name, err)
		}
		closeHost := func() { h.Close(context.WithoutCancel(ctx)) }
		m, err := h.Compile(ctx, name, wasm, c.Plugin.SHA256)
		if err != nil {
			closeHost()
			return nil, nil, fmt.Errorf("extension: cell %s: %w", c.Name, err)
		}
		return plugins.Wasm{Host: h, Module: m, Stderr: stderr}, closeHost, nil
	}
	return nil, nil, fmt.Errorf("extension: cell %s: build = %q: extension cells build with \"pgxs\" or \"plugin:NAME\"", c.Name, c.Recipe)
}

// prepare stages the source in a fresh scratch dir, runs the recipe and
// computes the action. The caller removes p.dir.
func (e *engine) prepare(ctx context.Context, c Cell, parent build.Result, o runOpts) (p prepared, err error) {
	p = prepared{cell: c, parent: parent}
	if parent.Package == "" {
		return p, fmt.Errorf("extension: cell %s: Postgres cell %s has no package", c.Name, c.Parent.Name)
	}
	srcArchive, err := e.cfg.Store.Check(c.Source.SHA256)
	if err != nil {
		return p, fmt.Errorf("extension: cell %s: source %s: %w", c.Name, c.Source.Name, err)
	}
	if p.sde, err = e.sourceDateEpoch(ctx, c, srcArchive); err != nil {
		return p, err
	}
	if p.tc, err = e.cfg.Toolchain(ctx, toolchains.Cell{Target: c.Parent.Arch, Options: c.Parent.Options, Extension: c.Extension}); err != nil {
		return p, fmt.Errorf("extension: cell %s: toolchain for %s: %w", c.Name, c.Parent.Arch, err)
	}
	if err := os.MkdirAll(o.scratch, 0o755); err != nil {
		return p, fmt.Errorf("extension: cell %s: scratch dir: %w", c.Name, err)
	}
	if p.dir, err = os.MkdirTemp(o.scratch, "ext-"+strings.ReplaceAll(c.Name, "~", "-")+"-"); err != nil {
		return p, fmt.Errorf("extension: cell %s: scratch dir: %w", c.Name, err)
	}
	p.src = filepath.Join(p.dir, "src")
	if err := archive.Extract(ctx, srcArchive, p.src, archive.Options{StripPrefix: c.Source.StripPrefix, Mtime: time.Unix(p.sde, 0)}); err != nil {
		return p, fmt.Errorf("extension: cell %s: extracting %s: %w", c.Name, c.Source.Name, err)
	}

	var stderr bytes.Buffer
	r, done, err := e.recipe(ctx, c, p.sde, &stderr)
	if err != nil {
		return p, err
	}
	p.req = Request(c)
	p.req.SourceDateEpoch = p.sde
	plan, err := r.Plan(ctx, p.req, os.DirFS(p.src))
	done()
	p.planLog = stderr.Bytes()
	if err != nil {
		return p, fmt.Errorf("extension: cell %s: recipe %s: %w%s", c.Name, c.Recipe, err, logNote(p.planLog))
	}
	locked := func(name string) bool {
		if p.tc.Packages != nil {
			return slices.Contains(p.tc.Packages, name) // in this cell's root
		}
		return e.cfg.LockedPackage != nil && e.cfg.LockedPackage(c.Parent.Arch, name)
	}
	p.plan = plan
	if err := plugins.ValidatePlan(plan, PGDir, locked); err != nil {
		return p, fmt.Errorf("extension: cell %s: recipe %s returned an unusable plan: %w", c.Name, c.Recipe, err)
	}
	if p.applied, err = plugins.ApplyPlan(p.src, plan); err != nil {
		return p, fmt.Errorf("extension: cell %s: applying the plan of recipe %s: %w", c.Name, c.Recipe, err)
	}

	var env []build.EnvVar
	for _, kv := range sandbox.DefaultEnv(p.sde) {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, build.EnvVar{Name: k, Value: v})
	}
	slices.SortFunc(env, func(a, b build.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	inputs := []build.ActionInput{
		{Path: PGDir, SHA256: parent.Package},
		{Path: SrcDir, SHA256: c.Source.SHA256, StripPrefix: c.Source.StripPrefix},
	}
	if c.Plugin.SHA256 != "" {
		inputs = append(inputs, build.ActionInput{Path: "plugin:" + c.Plugin.Name, SHA256: c.Plugin.SHA256})
	}
	p.action = Action{
		RecipeVersion: RecipeVersion,
		Cell:          c.Name,
		Arch:          c.Parent.Arch,
		RootDigest:    p.tc.Digest,
		Inputs:        inputs,
		Recipe:        c.Recipe,
		Plan:          plan,
		Command: build.Command{
			Arguments:        []string{"/bin/sh", "-c", Script(plan)},
			Environment:      env,
			WorkingDirectory: SrcDir,
			OutputPaths:      []string{OutDir},
		},
		Smoke: SmokeScript(c),
	}
	p.key = p.action.Key()
	return p, nil
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

// build builds one cell or finds it in the action cache.
func (e *engine) build(ctx context.Context, c Cell, parent build.Result, o runOpts) build.Result {
	p, err := e.prepare(ctx, c, parent, o)
	if err != nil {
		if p.dir != "" && !e.cfg.KeepScratch {
			os.RemoveAll(p.dir)
		}
		return build.Result{State: event.StateFailed, Err: err}
	}
	var r build.Result
	defer func() {
		if r.State != event.StateFailed || !e.cfg.KeepScratch {
			os.RemoveAll(p.dir)
		}
	}()
	if !o.bypass {
		hit, ok, err := build.Lookup(e.cfg.Store, p.key)
		if err != nil {
			r = build.Result{State: event.StateFailed, ActionKey: p.key, Err: err}
			return r
		}
		if ok {
			r = build.Result{State: event.StateCached, ActionKey: p.key, Package: hit.Package, Manifest: hit.Manifest, Log: hit.Log}
			if err := e.publish(c.Name, &r); err != nil {
				r.State, r.Err = event.StateFailed, err
			}
			return r
		}
	}
	r = e.run(ctx, p, o)
	return r
}

// run executes a prepared action: build in the sandbox, collect the
// install, package, smoke test, record.
func (e *engine) run(ctx context.Context, p prepared, o runOpts) build.Result {
	c := p.cell
	e.em.Started(c.Name)
	e.em.Finished(c.Name, event.StateRunning, nil)
	r := build.Result{State: event.StateFailed, ActionKey: p.key}
	logPath := build.LogPath(e.cfg.Store, p.key)
	if o.bypass {
		logPath = strings.TrimSuffix(logPath, ".log") + ".verify.log"
	}
	r.Log = logPath
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		r.Err = fmt.Errorf("extension: cell %s: %w", c.Name, err)
		return r
	}
	logf, err := os.Create(logPath)
	if err != nil {
		r.Err = fmt.Errorf("extension: cell %s: %w", c.Name, err)
		return r
	}
	defer logf.Close()
	lw := &build.LineWriter{Emit: func(l string) { e.em.Log(c.Name, l) }}
	out := io.MultiWriter(logf, lw)
	failed := func(step string, err error) build.Result {
		lw.Flush()
		logf.Sync()
		r.Err = fmt.Errorf("extension: cell %s: %s: %w\nlog %s ends with:\n%s", c.Name, step, err, logPath, build.TailFile(logPath, 25))
		return r
	}
	fmt.Fprintf(out, "monogres: cell %s action %s\nmonogres: toolchain root %s (digest %s)\n", c.Name, p.key, p.tc.Dir, p.tc.Digest)
	fmt.Fprintf(out, "monogres: Postgres cell %s package %s at %s\nmonogres: source %s at %s, recipe %s\n", c.Parent.Name, p.parent.Package, PGDir, c.Source.Name, SrcDir, c.Recipe)
	if len(p.planLog) > 0 {
		fmt.Fprintf(out, "monogres: plugin stderr:\n%s\n", bytes.TrimRight(p.planLog, "\n"))
	}
	for _, a := range p.applied {
		fmt.Fprintf(out, "monogres: plan: %s\n", a)
	}
	if len(p.plan.Package) > 0 {
		fmt.Fprintf(out, "monogres: plan: package %q\n", p.plan.Package)
	}
	pg := filepath.Join(p.dir, "pg")
	if err := archive.Extract(ctx, e.cfg.Store.Path(p.parent.Package), pg, archive.Options{}); err != nil {
		return failed("extracting the Postgres package", err)
	}
	outDir := filepath.Join(p.dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return failed("scratch dir", err)
	}
	err = sandbox.Run(ctx, sandbox.Spec{
		Limits: e.cfg.Limits,
		Root:   p.tc.Dir,
		// On arm64, pg_config is an arm64 program, run under qemu.
		Binfmt: build.Emulation(c.Parent.Arch),
		Mounts: []sandbox.Mount{
			sandbox.BindRO(pg, PGDir),
			sandbox.BindRW(p.src, SrcDir),
			sandbox.BindRW(outDir, OutDir),
			sandbox.Tmpfs(build.HomeDir, 0o755),
		},
		Argv:   p.action.Command.Arguments,
		Env:    append(p.action.Env(), "MAKEFLAGS=-j"+strconv.Itoa(o.jobs)),
		Dir:    SrcDir,
		Stdout: out,
		Stderr: out,
	})
	if err != nil {
		return failed("build", err)
	}
	install, err := collect(outDir, pg, p.plan.Package)
	if err != nil {
		return failed("collecting the install", err)
	}
	fmt.Fprintf(out, "monogres: packaging %s\n", install)
	pkg, man, err := e.pack(ctx, p, install)
	if err != nil {
		return failed("packaging", err)
	}
	switch {
	case e.cfg.SkipSmoke:
	case o.bypass:
		fmt.Fprintf(out, "monogres: no smoke test for a verify rebuild: its package is compared byte for byte with the smoke-tested one\n")
	default:
		fmt.Fprintf(out, "monogres: smoke test (Postgres and extension packages at %s, uid %d)\n", build.SmokeDir, build.SmokeUID)
		if err := e.smoke(ctx, p, pg, pkg, out); err != nil {
			return failed("smoke test", err)
		}
	}
	fmt.Fprintf(out, "monogres: package sha256 %s, manifest sha256 %s\n", pkg, man)
	lw.Flush()
	if err := logf.Close(); err != nil {
		return failed("log", err)
	}
	r.Package, r.Manifest, r.State = pkg, man, event.StateBuilt
	if o.bypass {
		r.PackagePath, r.ManifestPath = e.cfg.Store.Path(pkg), e.cfg.Store.Path(man)
		return r
	}
	if err := build.Record(e.cfg.Store, build.ACEntry{Cell: c.Name, ActionKey: p.key, Package: pkg, Manifest: man, Log: logPath}); err != nil {
		r.State, r.Err = event.StateFailed, err
		return r
	}
	if err := e.publish(c.Name, &r); err != nil {
		r.State, r.Err = event.StateFailed, err
	}
	return r
}

// collect returns the directory to package: the extension's install below
// outDir+PGDir, reduced to what patterns select (plugins.MatchPackage,
// relative to outDir). A selected file outside PGDir, a file the Postgres
// package (extracted at pg) already has, and an empty install are errors.
func collect(outDir, pg string, patterns []string) (string, error) {
	root := filepath.Join(outDir, strings.TrimPrefix(PGDir, "/"))
	base := strings.TrimPrefix(PGDir, "/") + "/"
	var files []string
	matched := make([]bool, len(patterns))
	err := filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(outDir, p)
		rel = filepath.ToSlash(rel)
		for i, pat := range patterns {
			matched[i] = matched[i] || plugins.MatchPattern(pat, rel)
		}
		if !plugins.MatchPackage(patterns, rel) {
			return nil
		}
		if !strings.HasPrefix(rel, base) {
			return fmt.Errorf("%s was installed outside the Postgres tree %s (DESTDIR=%s); an extension package holds only files below it", "/"+rel, PGDir, OutDir)
		}
		in := strings.TrimPrefix(rel, base)
		if _, err := os.Lstat(filepath.Join(pg, filepath.FromSlash(in))); err == nil {
			return fmt.Errorf("the extension installs %s, which the Postgres package already has", in)
		}
		files = append(files, in)
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("nothing was installed below %s%s (or nothing matched the plan's package patterns %q)", OutDir, PGDir, patterns)
	}
	for i, ok := range matched {
		if !ok {
			return "", fmt.Errorf("package[%d] %q matched no installed file", i, patterns[i])
		}
	}
	if len(patterns) == 0 {
		return root, nil
	}
	sel := filepath.Join(outDir, "..", "selected")
	for _, f := range files {
		dst := filepath.Join(sel, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(root, filepath.FromSlash(f)), dst); err != nil {
			return "", err
		}
	}
	return sel, nil
}

// pack writes the package and its manifest into the CAS.
func (e *engine) pack(ctx context.Context, p prepared, install string) (pkg, man string, err error) {
	w, err := e.cfg.Store.Create(ctx, "", 0)
	if err != nil {
		return "", "", err
	}
	files, err := build.Pack(ctx, install, p.sde, w)
	if err != nil {
		w.Discard()
		return "", "", err
	}
	pkg, size, err := w.Commit()
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", err
	}
	c := p.cell
	m := Manifest{
		Manifest: build.Manifest{
			Format: build.ManifestFormat, Cell: c.Name, ActionKey: p.key, LockDigest: e.cfg.LockDigest,
			Source: c.Source.Name, SourceSHA256: c.Source.SHA256, SourceDateEpoch: p.sde,
			Prefix: build.Prefix, Compression: build.Compression, Package: pkg, Size: size, Files: files,
		},
		Extension: c.Extension, ExtensionVersion: c.Version, Recipe: c.Recipe, PluginSHA256: c.Plugin.SHA256,
		Parent: c.Parent.Name, ParentPackage: p.parent.Package,
	}
	man, err = e.putBytes(ctx, EncodeManifest(&m))
	return pkg, man, err
}

// EncodeManifest is the canonical JSON of m (indented, trailing newline).
func EncodeManifest(m *Manifest) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(m) // plain data: cannot fail
	return b.Bytes()
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

func (e *engine) readManifest(sha string) (*Manifest, error) {
	b, err := os.ReadFile(e.cfg.Store.Path(sha))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", sha, err)
	}
	return &m, nil
}

// smoke extracts the Postgres package and the new extension package
// together and runs the smoke test on them.
func (e *engine) smoke(ctx context.Context, p prepared, pg, pkg string, out io.Writer) error {
	both := filepath.Join(p.dir, "smoke")
	if err := archive.Extract(ctx, e.cfg.Store.Path(p.parent.Package), both, archive.Options{}); err != nil {
		return err
	}
	ext := filepath.Join(p.dir, "smoke-ext")
	if err := archive.Extract(ctx, e.cfg.Store.Path(pkg), ext, archive.Options{}); err != nil {
		return err
	}
	if err := merge(ext, both); err != nil {
		return fmt.Errorf("adding the extension package to the Postgres package: %w", err)
	}
	return sandbox.Run(ctx, sandbox.Spec{
		Limits: e.cfg.Limits,
		Root:   p.tc.Dir,
		Binfmt: build.Emulation(p.cell.Parent.Arch),
		Mounts: []sandbox.Mount{sandbox.BindRO(both, build.SmokeDir), sandbox.Tmpfs(build.HomeDir, 0o755)},
		Argv:   []string{"/bin/sh", "-c", p.action.Smoke},
		Env:    sandbox.DefaultEnv(p.sde),
		Dir:    "/tmp",
		UID:    build.SmokeUID,
		GID:    build.SmokeUID,
		Stdout: out,
		Stderr: out,
	})
}

// merge moves the tree at src into dst: directories are merged, a file
// that dst already has is an error.
func merge(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return nil
		}
		if _, err := os.Lstat(target); err == nil {
			return fmt.Errorf("%s is in both packages", filepath.ToSlash(rel))
		}
		return os.Rename(p, target)
	})
}

// publish links the package and manifest into OutDir as <name>.tar.zst and
// <name>.json and fills the result's paths.
func (e *engine) publish(name string, r *build.Result) error {
	r.PackagePath, r.ManifestPath = e.cfg.Store.Path(r.Package), e.cfg.Store.Path(r.Manifest)
	if e.cfg.OutDir == "" {
		return nil
	}
	if err := os.MkdirAll(e.cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("extension: output dir: %w", err)
	}
	pp := filepath.Join(e.cfg.OutDir, name+".tar.zst")
	mp := filepath.Join(e.cfg.OutDir, name+".json")
	if err := build.LinkOrCopy(r.PackagePath, pp); err != nil {
		return err
	}
	if err := build.LinkOrCopy(r.ManifestPath, mp); err != nil {
		return err
	}
	r.PackagePath, r.ManifestPath = pp, mp
	if e.cfg.Evidence != nil {
		return e.cfg.Evidence(name, r) // SBOM and provenance beside the package
	}
	return nil
}
