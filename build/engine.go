package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/toolchains"
)

// Build builds cells in dependency order, cfg.Jobs at a time, each with
// cfg.MakeJobs make/ninja jobs: a cell whose action is in the action cache
// is not rebuilt (no sandbox starts); every other one is extracted, built
// and installed in the sandbox, smoke-tested, packaged into the store and
// recorded in the action cache. Results are in the order of cells. The
// error joins the failures, each with the tail of its log; without
// cfg.KeepGoing, cells not yet started after a failure are not built.
func Build(ctx context.Context, cfg Config, cells []Cell) ([]Result, error) {
	e, err := newEngine(cfg, event.PhaseBuild)
	if err != nil {
		return nil, err
	}
	return e.schedule(ctx, cells, func(ctx context.Context, c Cell) Result {
		return e.build(ctx, c, runOpts{jobs: e.cfg.MakeJobs, scratch: e.scratch})
	})
}

type engine struct {
	cfg     Config
	em      event.Emitter
	scratch string
	// sde caches derived SOURCE_DATE_EPOCHs by archive sha256.
	sdeMu sync.Mutex
	sde   map[string]int64
}

func newEngine(cfg Config, phase event.Phase) (*engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("build: Config.Store is nil")
	}
	if cfg.Toolchain == nil {
		return nil, errors.New("build: Config.Toolchain is nil")
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
	return &engine{cfg: cfg, em: event.Emitter{Sink: cfg.Sink, Phase: phase, Now: cfg.Now}, scratch: scratch, sde: map[string]int64{}}, nil
}

// schedule runs fn for every cell once its dependencies in cells are done.
func (e *engine) schedule(ctx context.Context, cells []Cell, fn func(context.Context, Cell) Result) ([]Result, error) {
	idx := map[string]int{}
	for i, c := range cells {
		if _, dup := idx[c.Name]; dup {
			return nil, fmt.Errorf("build: cell %s given twice", c.Name)
		}
		idx[c.Name] = i
	}
	results := make([]Result, len(cells))
	done := make([]chan struct{}, len(cells))
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, e.cfg.Jobs)
	var stopMu sync.Mutex
	stopped := "" // the first failed cell, without KeepGoing
	var wg sync.WaitGroup
	for i, c := range cells {
		wg.Go(func() {
			defer close(done[i])
			fail := func(err error) {
				results[i] = Result{Cell: c.Name, State: event.StateFailed, Err: err}
				e.em.Finished(c.Name, event.StateFailed, err)
			}
			for _, d := range c.Deps {
				j, ok := idx[d]
				if !ok {
					continue
				}
				<-done[j]
				if results[j].State == event.StateFailed {
					fail(fmt.Errorf("build: cell %s: dependency %s failed", c.Name, d))
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				fail(fmt.Errorf("build: cell %s not built: %w", c.Name, context.Cause(ctx)))
				return
			}
			defer func() { <-sem }()
			stopMu.Lock()
			s := stopped
			stopMu.Unlock()
			if s != "" {
				fail(fmt.Errorf("build: cell %s not built: %s failed (keep going to build the rest)", c.Name, s))
				return
			}
			start := time.Now()
			r := fn(ctx, c)
			r.Cell = c.Name
			r.Duration = time.Since(start)
			results[i] = r
			if r.State == event.StateFailed {
				e.em.Finished(c.Name, event.StateFailed, r.Err)
				if !e.cfg.KeepGoing {
					stopMu.Lock()
					if stopped == "" {
						stopped = c.Name
					}
					stopMu.Unlock()
				}
				return
			}
			e.em.Finished(c.Name, r.State, nil)
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

type runOpts struct {
	jobs    int
	scratch string
	bypass  bool // ignore and do not write the action cache
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

// prepared is a cell with its action computed.
type prepared struct {
	cell   Cell
	src    string // archive path in the CAS
	sde    int64
	tc     Toolchain
	action Action
	key    string
}

func (e *engine) prepare(ctx context.Context, c Cell) (prepared, error) {
	if err := checkCell(c); err != nil {
		return prepared{}, err
	}
	src, err := e.cfg.Store.Check(c.Source.SHA256)
	if err != nil {
		return prepared{}, fmt.Errorf("build: cell %s: source %s: %w", c.Name, c.Source.Name, err)
	}
	sde, err := e.sourceDateEpoch(ctx, c, src)
	if err != nil {
		return prepared{}, err
	}
	tc, err := e.cfg.Toolchain(ctx, toolchains.Cell{Target: c.Arch, Options: c.Options})
	if err != nil {
		return prepared{}, fmt.Errorf("build: cell %s: toolchain for %s: %w", c.Name, c.Arch, err)
	}
	a, err := NewAction(c, tc.Digest, sde)
	if err != nil {
		return prepared{}, err
	}
	return prepared{cell: c, src: src, sde: sde, tc: tc, action: a, key: a.Key()}, nil
}

// build builds one cell (or finds it in the action cache).
func (e *engine) build(ctx context.Context, c Cell, o runOpts) Result {
	p, err := e.prepare(ctx, c)
	if err != nil {
		return Result{State: event.StateFailed, Err: err}
	}
	if !o.bypass {
		hit, ok, err := Lookup(e.cfg.Store, p.key)
		if err != nil {
			return Result{State: event.StateFailed, ActionKey: p.key, Err: err}
		}
		if ok {
			r := Result{State: event.StateCached, ActionKey: p.key, Package: hit.Package, Manifest: hit.Manifest, Log: hit.Log}
			if err := e.publish(c.Name, &r, ""); err != nil {
				r.State, r.Err = event.StateFailed, err
			}
			return r
		}
	}
	return e.run(ctx, p, o)
}

// run executes a prepared action: extract, build, smoke test, package.
func (e *engine) run(ctx context.Context, p prepared, o runOpts) Result {
	c := p.cell
	e.em.Started(c.Name) // front ends show it as building
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
	lw := &LineWriter{Emit: func(l string) { e.em.Log(c.Name, l) }}
	out := io.MultiWriter(logf, lw)
	failed := func(step string, err error) Result {
		lw.Flush()
		logf.Close()
		r.Err = fmt.Errorf("build: cell %s: %s: %w\nlog %s ends with:\n%s", c.Name, step, err, logPath, TailFile(logPath, 25))
		return r
	}
	if err := os.MkdirAll(o.scratch, 0o755); err != nil {
		return failed("scratch dir", err)
	}
	dir, err := os.MkdirTemp(o.scratch, "build-"+shortName(c.Name)+"-")
	if err != nil {
		return failed("scratch dir", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	src, work, outDir := filepath.Join(dir, "src"), filepath.Join(dir, "work"), filepath.Join(dir, "out")
	for _, d := range []string{work, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return failed("scratch dir", err)
		}
	}
	fmt.Fprintf(out, "monogres: cell %s action %s\nmonogres: toolchain root %s (digest %s)\nmonogres: extracting %s into %s\n", c.Name, p.key, p.tc.Dir, p.tc.Digest, c.Source.Name, SrcDir)
	t0 := time.Now()
	if err := archive.Extract(ctx, p.src, src, archive.Options{StripPrefix: c.Source.StripPrefix}); err != nil {
		return failed("extracting "+c.Source.Name, err)
	}
	fmt.Fprintf(out, "monogres: extracted in %v; building with %d jobs in %s\n", time.Since(t0).Round(time.Millisecond), o.jobs, dir)
	t0 = time.Now()
	spec := sandbox.Spec{
		Limits: e.cfg.Limits,
		Root:   p.tc.Dir,
		Mounts: []sandbox.Mount{
			sandbox.BindRW(src, SrcDir),
			sandbox.BindRW(work, WorkDir),
			sandbox.BindRW(outDir, OutDir),
			sandbox.Tmpfs(HomeDir, 0o755),
		},
		Argv:   p.action.Command.Arguments,
		Env:    append(p.action.Env(), JobsVar+"="+strconv.Itoa(o.jobs)),
		Dir:    p.action.Command.WorkingDirectory,
		Stdout: out,
		Stderr: out,
	}
	if err := sandbox.Run(ctx, spec); err != nil {
		keep = e.cfg.KeepScratch
		return failed("build", err)
	}
	fmt.Fprintf(out, "monogres: built and installed in %v\n", time.Since(t0).Round(time.Millisecond))
	install := filepath.Join(outDir, "root", filepath.FromSlash(strings.TrimPrefix(Prefix, "/")))
	t0 = time.Now()
	if !e.cfg.SkipSmoke {
		fmt.Fprintf(out, "monogres: smoke test (install mounted at %s, uid %d)\n", SmokeDir, SmokeUID)
		if err := e.smoke(ctx, p, install, out); err != nil {
			keep = e.cfg.KeepScratch
			return failed("smoke test", err)
		}
	}
	fmt.Fprintf(out, "monogres: smoke test took %v; packaging %s\n", time.Since(t0).Round(time.Millisecond), install)
	t0 = time.Now()
	pkg, man, err := e.pack(ctx, p, install)
	if err != nil {
		return failed("packaging", err)
	}
	fmt.Fprintf(out, "monogres: packaged in %v: package sha256 %s, manifest sha256 %s\n", time.Since(t0).Round(time.Millisecond), pkg, man)
	lw.Flush()
	if err := logf.Close(); err != nil {
		return failed("log", err)
	}
	r.Package, r.Manifest, r.State = pkg, man, event.StateBuilt
	if o.bypass {
		return r
	}
	if err := Record(e.cfg.Store, ACEntry{Cell: c.Name, ActionKey: p.key, Package: pkg, Manifest: man, Log: logPath}); err != nil {
		r.State, r.Err = event.StateFailed, err
		return r
	}
	if err := e.publish(c.Name, &r, ""); err != nil {
		r.State, r.Err = event.StateFailed, err
	}
	return r
}

// smoke runs the smoke test of an install tree in the sandbox.
func (e *engine) smoke(ctx context.Context, p prepared, install string, out io.Writer) error {
	return sandbox.Run(ctx, sandbox.Spec{
		Limits: e.cfg.Limits,
		Root:   p.tc.Dir,
		Binfmt: Emulation(p.cell.Arch),
		Mounts: []sandbox.Mount{sandbox.BindRO(install, SmokeDir), sandbox.Tmpfs(HomeDir, 0o755)},
		Argv:   []string{"/bin/sh", "-c", p.action.Smoke},
		Env:    sandbox.DefaultEnv(p.sde),
		Dir:    "/tmp",
		UID:    SmokeUID,
		GID:    SmokeUID,
		Stdout: out,
		Stderr: out,
	})
}

// pack writes the package and its manifest into the CAS.
func (e *engine) pack(ctx context.Context, p prepared, install string) (pkg, man string, err error) {
	w, err := e.cfg.Store.Create(ctx, "", 0)
	if err != nil {
		return "", "", err
	}
	files, err := Pack(ctx, install, p.sde, w)
	if err != nil {
		w.Discard()
		return "", "", err
	}
	pkg, size, err := w.Commit()
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", err
	}
	m := &Manifest{
		Format: ManifestFormat, Cell: p.cell.Name, ActionKey: p.key, LockDigest: e.cfg.LockDigest,
		Source: p.cell.Source.Name, SourceSHA256: p.cell.Source.SHA256, SourceDateEpoch: p.sde,
		Prefix: Prefix, Compression: Compression, Package: pkg, Size: size, Files: files,
	}
	man, err = e.putBytes(ctx, EncodeManifest(m))
	return pkg, man, err
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
// <name><suffix>.tar.zst and .json and fills the result's paths.
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
