// Package plugins runs monogres build recipes: the built-in ones (PGXS) and
// WebAssembly plugins, behind one Recipe interface.
//
// Wasm plugins are WASI preview 1 modules, commands (_start) or reactors
// (_initialize and the SDK's monogres_main, see snapshot.go), run by wazero
// under these invariants: the module's sha256 is checked against its pin
// before it is compiled; each call gets a fresh instance (a reactor's
// starts from the state its package init left in a template instance); the request arrives on stdin and
// the plan is read from stdout, bounded in size; stderr goes to the caller,
// bounded; the clock is fixed at SOURCE_DATE_EPOCH and the random source is a
// fixed-seed stream; there is no network and no environment beyond what the
// host passes; the source tree is a read-only fs.FS over a staging copy, so
// neither "../" nor symlinks reach the host; linear memory is capped; a
// deadline closes the module; compiled code is cached on disk by wasm sha256
// and wazero version. The plan a plugin returns is validated before use.
//
// The protocol types live in package sdk, which plugin authors import.
package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/termsafe"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/monogres/monogres/plugins/sdk"
)

// Defaults for zero Options fields.
const (
	DefaultMemoryLimitMiB = 256
	DefaultTimeout        = 30 * time.Second
	DefaultMaxStdout      = 16 << 20
	DefaultMaxStderr      = 1 << 20
)

// Mount is where a plugin sees the source tree (read-only).
const Mount = "/src"

// randomSeed seeds the ChaCha8 stream a plugin reads as its random source.
var randomSeed = [32]byte([]byte("monogres plugin random source v1"))

// Options configure a Host. The zero value is usable.
type Options struct {
	// CacheDir holds compiled modules across processes (e.g. a directory in
	// the store). Empty keeps compiled code in memory only.
	CacheDir string
	// MemoryLimitMiB caps a plugin's linear memory (default 256 MiB).
	MemoryLimitMiB uint32
	// Timeout bounds one call (default 30s); the caller's context may end it
	// sooner.
	Timeout time.Duration
	// MaxStdout bounds the plan a plugin may write (default 16 MiB); a plugin
	// writing more is stopped.
	MaxStdout int64
	// MaxStderr bounds what is forwarded from a plugin's stderr (default
	// 1 MiB); the rest is dropped with a note.
	MaxStderr int64
	// SourceDateEpoch is the fixed time, in Unix seconds, that the plugin's
	// wall clock reads. It is also passed as $SOURCE_DATE_EPOCH.
	SourceDateEpoch int64
	// Env is added to the plugin's environment, which otherwise holds only
	// SOURCE_DATE_EPOCH and PWD=/src.
	Env map[string]string
	// TempDir is where staging copies of source trees are made (default
	// os.TempDir()).
	TempDir string
}

func (o Options) withDefaults() Options {
	if o.MemoryLimitMiB == 0 {
		o.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxStdout == 0 {
		o.MaxStdout = DefaultMaxStdout
	}
	if o.MaxStderr == 0 {
		o.MaxStderr = DefaultMaxStderr
	}
	return o
}

// Host compiles and runs wasm plugins. It is safe for concurrent use.
type Host struct {
	opts     Options
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	cacheDir string // the namespaced on-disk cache, or ""
}

// NewHost starts a wazero runtime configured by opts.
func NewHost(ctx context.Context, opts Options) (*Host, error) {
	opts = opts.withDefaults()
	if opts.MemoryLimitMiB > 4096 {
		return nil, fmt.Errorf("plugin memory limit %d MiB is above the 4096 MiB a wasm32 module can address", opts.MemoryLimitMiB)
	}
	var cache wazero.CompilationCache
	var cacheDir string
	if opts.CacheDir != "" {
		ns, err := cacheNamespace()
		if err != nil {
			return nil, fmt.Errorf("plugin compile cache %s: %w", opts.CacheDir, err)
		}
		cacheDir = filepath.Join(opts.CacheDir, ns)
		c, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin compile cache %s: %w", opts.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(opts.MemoryLimitMiB * 16). // 64 KiB pages
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		cache.Close(ctx)
		return nil, fmt.Errorf("instantiating WASI: %w", err)
	}
	return &Host{opts: opts, rt: rt, cache: cache, cacheDir: cacheDir}, nil
}

// cacheNamespace names the compile-cache subdirectory for this build of
// monogres: "wazero-<version>" from the binary's build info. wazero keys its
// own directory by that version too, but falls back to "dev" when build info
// lacks it (test binaries), where stale code of another wazero version could
// be loaded; then the namespace is the digest of the running executable.
func cacheNamespace() (string, error) {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/tetratelabs/wazero" && dep.Version != "" && dep.Version != "(devel)" {
				return "wazero-" + dep.Version, nil
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	sum, _, err := store.HashFile(context.Background(), exe)
	if err != nil {
		return "", err
	}
	return "exe-" + sum[:32], nil
}

// clearCache removes the files under dir, keeping the directories wazero
// created (another Host may be writing there).
func clearCache(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Remove(p)
	})
}

// Close releases the runtime and every module compiled by it.
func (h *Host) Close(ctx context.Context) error {
	return errors.Join(h.rt.Close(ctx), h.cache.Close(ctx))
}

// Module is a compiled plugin, ready for any number of calls.
type Module struct {
	// Name identifies the plugin in errors and is its argv[0].
	Name string
	// SHA256 is the hex sha256 of the wasm bytes.
	SHA256   string
	compiled wazero.CompiledModule
	// reactor: the module exports _initialize and monogres_main (see
	// snapshot.go) and its nglobals globals are exported for the host.
	reactor  bool
	nglobals int
	mu       sync.Mutex // guards snap
	snap     *snapshot  // the template state, once taken
}

// Compile checks that wasm hashes to wantSHA256 (hex), then compiles it (or
// loads it from the compile cache). name identifies the plugin in errors.
func (h *Host) Compile(ctx context.Context, name string, wasm []byte, wantSHA256 string) (*Module, error) {
	sum := sha256.Sum256(wasm)
	got := hex.EncodeToString(sum[:])
	if !strings.EqualFold(got, wantSHA256) {
		return nil, fmt.Errorf("plugin %s: wasm has sha256 %s, but it is pinned to %s; refusing to compile it", name, got, wantSHA256)
	}
	wasm = coalesceData(wasm) // the pin was checked on the bytes as given
	wasm, nglobals, reactor := exportGlobals(wasm)
	compiled, err := h.rt.CompileModule(ctx, wasm)
	if err != nil && h.cacheDir != "" && strings.Contains(err.Error(), "compilationcache:") {
		// A corrupt cache entry (wazero checks a checksum). wazero's entry
		// names are internal, so drop every entry and compile afresh.
		if rmErr := clearCache(h.cacheDir); rmErr != nil {
			return nil, fmt.Errorf("plugin %s: compile cache %s is corrupt (%v) and clearing it failed: %w", name, h.cacheDir, err, rmErr)
		}
		compiled, err = h.rt.CompileModule(ctx, wasm)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin %s: compiling wasm: %w", name, err)
	}
	for _, f := range compiled.ImportedFunctions() {
		if mod, fn, _ := f.Import(); mod != wasi_snapshot_preview1.ModuleName {
			compiled.Close(ctx)
			return nil, fmt.Errorf("plugin %s: imports %s.%s; plugins may import only %s", name, mod, fn, wasi_snapshot_preview1.ModuleName)
		}
	}
	entries := []string{"_start"}
	if reactor {
		entries = []string{reactorInit, reactorMain}
	}
	for _, e := range entries {
		if f, ok := compiled.ExportedFunctions()[e]; !ok || len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0 {
			compiled.Close(ctx)
			return nil, fmt.Errorf("plugin %s: exports no %s function without parameters and results; a plugin must be a WASI command module (GOOS=wasip1 GOARCH=wasm go build) or a reactor using the SDK (monogres plugin build)", name, e)
		}
	}
	return &Module{Name: name, SHA256: got, compiled: compiled, reactor: reactor, nglobals: nglobals}, nil
}

// Close releases the compiled module (the on-disk cache entry stays).
func (m *Module) Close(ctx context.Context) error {
	return m.compiled.Close(ctx)
}

// Call runs one fresh instance of m with req on stdin and src (read-only,
// staged) under /src, and returns its validated plan. The plugin's stderr is
// copied to stderr (nil discards it). req.Protocol, req.Paths.Mount and, when
// empty, req.Files are filled in by the host.
func (h *Host) Call(ctx context.Context, m *Module, req sdk.Request, src fs.FS, stderr io.Writer) (sdk.Plan, error) {
	out, err := h.call(ctx, m, req, src, stderr)
	if err != nil {
		return sdk.Plan{}, err
	}
	return DecodePlan(m.Name, out)
}

// call runs the plugin and returns its raw stdout.
func (h *Host) call(ctx context.Context, m *Module, req sdk.Request, src fs.FS, stderr io.Writer) ([]byte, error) {
	if req.Protocol == 0 {
		req.Protocol = sdk.ProtocolVersion
	}
	if req.Protocol != sdk.ProtocolVersion {
		return nil, fmt.Errorf("plugin %s: request speaks protocol version %d; this monogres speaks version %d", m.Name, req.Protocol, sdk.ProtocolVersion)
	}
	req.Paths.Mount = Mount

	tree, files, cleanup, err := h.stageTree(src)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: staging the source tree: %w", m.Name, err)
	}
	defer cleanup()
	if req.Files == nil {
		req.Files = files
	}

	reqJSON, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: encoding the request: %w", m.Name, err)
	}

	var snap *snapshot
	if m.reactor {
		if snap, err = h.template(ctx, m); err != nil {
			return nil, err
		}
	}

	callCtx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	stdout := &boundedBuffer{max: h.opts.MaxStdout, onOverflow: cancel}
	tail := &excerptBuffer{max: 1024}
	// stderr may be the user's terminal: no terminal control through it.
	errw := &boundedWriter{max: h.opts.MaxStderr}
	if stderr != nil {
		errw.w = &termsafe.Writer{W: stderr}
	}
	entry := "_start"
	if snap != nil {
		entry = reactorMain
		stdout.Write(snap.stdout)
		tail.Write(snap.stderr)
		errw.Write(snap.stderr)
	}
	cfg := h.moduleConfig(m, reqJSON, stdout, io.MultiWriter(tail, errw), normFS{tree, time.Unix(h.opts.SourceDateEpoch, 0)})
	err = h.run(ctx, callCtx, m, cfg, snap, entry, nil)
	errw.finish()
	if err != nil {
		return nil, h.runError(ctx, callCtx, m, err, stdout, tail, "")
	}
	return stdout.Bytes(), nil
}

// stageTree copies src for one call: into memory when it is small and
// holds no symlinks (stageMemory), else into a directory under TempDir
// served through os.Root (stage). cleanup removes the copy.
func (h *Host) stageTree(src fs.FS) (tree fs.FS, files []string, cleanup func(), err error) {
	if mem, files, ok, err := stageMemory(src, stageMemoryMax); err != nil || ok {
		return mem, files, func() {}, err
	}
	staging, err := os.MkdirTemp(h.opts.TempDir, "monogres-plugin-src-")
	if err != nil {
		return nil, nil, nil, err
	}
	if files, err = stage(src, staging); err != nil {
		os.RemoveAll(staging)
		return nil, nil, nil, err
	}
	root, err := os.OpenRoot(staging)
	if err != nil {
		os.RemoveAll(staging)
		return nil, nil, nil, err
	}
	return root.FS(), files, func() { root.Close(); os.RemoveAll(staging) }, nil
}

// moduleConfig is the configuration of one instance of m: req on stdin,
// the given stdout and stderr, src read-only under Mount, and the fixed
// clock, random source, arguments and environment.
func (h *Host) moduleConfig(m *Module, req []byte, stdout, stderr io.Writer, src fs.FS) wazero.ModuleConfig {
	epoch := h.opts.SourceDateEpoch
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: concurrent instances of one module are fine
		WithStartFunctions().
		WithArgs(m.Name).
		WithStdin(bytes.NewReader(req)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithWalltime(func() (int64, int32) { return epoch, 0 }, 1).
		WithNanotime(func() int64 { return 1 }, 1).
		WithRandSource(rand.NewChaCha8(randomSeed)).
		WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(newReadOnlyFS(src), Mount)).
		WithEnv("PWD", Mount).
		WithEnv("SOURCE_DATE_EPOCH", strconv.FormatInt(epoch, 10))
	for _, k := range slices.Sorted(maps.Keys(h.opts.Env)) {
		cfg = cfg.WithEnv(k, h.opts.Env[k])
	}
	return cfg
}

// runError is set when a run fails: it records the linear memory size
// reached, for telling an out-of-memory crash apart.
type runError struct {
	err     error
	memSize uint64
}

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// run instantiates m with cfg in a fresh instance, restores snap into it
// (when not nil), calls entry and closes the instance. An exit with status
// 0 is success. When keep is not nil it is called with the instance after
// instantiation (before anything runs) and after entry returned; its error
// fails the run.
func (h *Host) run(ctx, callCtx context.Context, m *Module, cfg wazero.ModuleConfig, snap *snapshot, entry string, keep func(mod api.Module, done bool) error) error {
	instCtx := experimental.WithMemoryAllocator(callCtx, mmapAllocator())
	mod, err := h.rt.InstantiateModule(instCtx, m.compiled, cfg)
	if err != nil {
		return fmt.Errorf("instantiating: %w", err)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	if snap != nil {
		if err := snap.restore(mod); err != nil {
			return fmt.Errorf("restoring the initialised state: %w", err)
		}
	}
	if keep != nil {
		if err := keep(mod, false); err != nil {
			return err
		}
	}
	_, err = mod.ExportedFunction(entry).Call(callCtx)
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err == nil && keep != nil {
		err = keep(mod, true)
	}
	if err != nil {
		var size uint64
		if mem := mod.Memory(); mem != nil {
			size = uint64(mem.Size())
		}
		return &runError{err, size}
	}
	return nil
}

// runError explains why a run of m failed; during names the phase
// ("" for a call, or " during package initialisation").
func (h *Host) runError(ctx, callCtx context.Context, m *Module, err error, stdout *boundedBuffer, tail *excerptBuffer, during string) error {
	var re *runError
	if !errors.As(err, &re) {
		return fmt.Errorf("plugin %s%s: %w", m.Name, during, err)
	}
	err = re.err
	// A trap's error carries wazero's wasm stack trace on more lines (a
	// reactor's Go runtime aborts with unreachable on a fatal panic, where
	// a command module exits 2): keep its first line, the stderr note
	// says what happened.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	var exit *sys.ExitError
	limit := uint64(h.opts.MemoryLimitMiB) << 20
	switch {
	case stdout.overflowed:
		return fmt.Errorf("plugin %s: stopped%s: it wrote more than %d bytes to stdout (the plan size limit)", m.Name, during, h.opts.MaxStdout)
	case ctx.Err() != nil:
		return fmt.Errorf("plugin %s: %w", m.Name, context.Cause(ctx))
	case callCtx.Err() != nil:
		return fmt.Errorf("plugin %s: stopped%s: it did not finish within %s", m.Name, during, h.opts.Timeout)
	case re.memSize+8<<20 >= limit:
		return fmt.Errorf("plugin %s: ran out of memory%s: its linear memory reached the limit of %d MiB (%s)%s", m.Name, during, h.opts.MemoryLimitMiB, msg, tail.note())
	case errors.As(err, &exit):
		return fmt.Errorf("plugin %s: exited with status %d%s%s", m.Name, exit.ExitCode(), during, tail.note())
	}
	return fmt.Errorf("plugin %s: crashed%s: %s%s", m.Name, during, msg, tail.note())
}

// template returns m's snapshot, taking it on first use: a template
// instance with no request on stdin and an empty tree under /src runs
// _initialize. A failure is returned to this call and retried by the next.
func (h *Host) template(ctx context.Context, m *Module) (*snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap != nil {
		return m.snap, nil
	}
	callCtx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	stdout := &boundedBuffer{max: h.opts.MaxStdout, onOverflow: cancel}
	tail := &excerptBuffer{max: 1024}
	errBuf := &boundedBuffer{max: h.opts.MaxStderr, onOverflow: func() {}}
	cfg := h.moduleConfig(m, nil, stdout, io.MultiWriter(tail, errWriter{errBuf}), emptyFS{})
	var base []byte
	var snap *snapshot
	err := h.run(ctx, callCtx, m, cfg, nil, reactorInit, func(mod api.Module, done bool) error {
		var err error
		switch mem := mod.Memory(); {
		case !done && mem != nil:
			b, _ := mem.Read(0, mem.Size())
			base = bytes.Clone(b)
		case done:
			if snap, err = takeSnapshot(mod, base, m.nglobals); err != nil {
				err = fmt.Errorf("taking the initialised state: %w", err)
			}
		}
		return err
	})
	if err != nil {
		return nil, h.runError(ctx, callCtx, m, err, stdout, tail, " during package initialisation")
	}
	snap.stdout = bytes.Clone(stdout.Bytes())
	snap.stderr = bytes.Clone(errBuf.Bytes())
	m.snap = snap
	return snap, nil
}

// errWriter never fails a write (a template's stderr beyond the limit is
// dropped, as a call's is).
type errWriter struct{ b *boundedBuffer }

func (w errWriter) Write(p []byte) (int, error) {
	w.b.Write(p)
	return len(p), nil
}

// emptyFS is the empty tree a template instance sees under /src.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return emptyDir{}, nil
}

type emptyDir struct{}

func (emptyDir) Stat() (fs.FileInfo, error) { return emptyDirInfo{}, nil }
func (emptyDir) Read([]byte) (int, error)   { return 0, errors.New("is a directory") }
func (emptyDir) Close() error               { return nil }
func (emptyDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if n > 0 {
		return nil, io.EOF
	}
	return nil, nil
}

type emptyDirInfo struct{}

func (emptyDirInfo) Name() string       { return "." }
func (emptyDirInfo) Size() int64        { return 0 }
func (emptyDirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (emptyDirInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (emptyDirInfo) IsDir() bool        { return true }
func (emptyDirInfo) Sys() any           { return nil }

// DecodePlan parses a plugin's stdout: it checks the protocol version first,
// then decodes strictly (unknown fields are errors) and validates the plan.
// name identifies the plugin in errors.
func DecodePlan(name string, out []byte) (sdk.Plan, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return sdk.Plan{}, fmt.Errorf("plugin %s: wrote no plan to stdout", name)
	}
	var head struct {
		Protocol *int `json:"protocol"`
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&head); err != nil {
		return sdk.Plan{}, fmt.Errorf("plugin %s: stdout is not a JSON plan: %v (output starts %q)", name, err, prefix(out, 80))
	}
	if head.Protocol == nil {
		return sdk.Plan{}, fmt.Errorf("plugin %s: plan has no \"protocol\" field; this monogres speaks protocol version %d", name, sdk.ProtocolVersion)
	}
	if *head.Protocol != sdk.ProtocolVersion {
		return sdk.Plan{}, fmt.Errorf("plugin %s: answered protocol version %d; this monogres speaks version %d (rebuild the plugin against a matching monogres plugins/sdk)", name, *head.Protocol, sdk.ProtocolVersion)
	}
	var p sdk.Plan
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return sdk.Plan{}, fmt.Errorf("plugin %s: malformed plan: %v", name, err)
	}
	if dec.More() {
		return sdk.Plan{}, fmt.Errorf("plugin %s: malformed plan: more than one JSON value on stdout", name)
	}
	if err := p.Validate(); err != nil {
		return sdk.Plan{}, fmt.Errorf("plugin %s: %w", name, err)
	}
	if err := checkPrintable(p); err != nil {
		return sdk.Plan{}, fmt.Errorf("plugin %s: invalid plan: %w", name, err)
	}
	return p, nil
}

func prefix(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
