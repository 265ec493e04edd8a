package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

const stateCell = "postgres~15.18~barebones~amd64"

// stateProject is a one-cell project in a temp dir with its own store
// (MONOGRES_STORE): a lock pinning a small stand-in source archive and an
// amd64 toolchain layer without packages, whose (empty) root is composed
// for real, so the action key is computed the way a build computes it.
func stateProject(t *testing.T) (*App, *store.Store, lock.Input) {
	return stateProjectWith(t, "", nil)
}

// stateProjectWith is stateProject with more manifest text and lock inputs.
func stateProjectWith(t *testing.T, moreTOML string, more []lock.Input) (*App, *store.Store, lock.Input) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("MONOGRES_STORE", filepath.Join(dir, "store"))
	st, err := OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	toml := "[postgres]\nversions = [\"15.18\"]\noption_sets = [\"barebones\"]\ntargets = [\"amd64\"]\n\n[toolchain]\npackages = []\n" + moreTOML
	if err := os.WriteFile(filepath.Join(dir, "monogres.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	src := []byte("a stand-in for postgresql-15.18.tar.bz2")
	sum := sha256.Sum256(src)
	in := lock.Input{Name: "postgres/15", Kind: lock.KindPostgres, Version: "15.18", URLs: []string{"https://example.invalid/pg.tar.bz2"},
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(src)), StripPrefix: "postgresql-15.18", SourceDateEpoch: 1700000000}
	l := &lock.Lock{Version: 1, Manifest: "sha256:" + strings.Repeat("0", 64), Inputs: append([]lock.Input{in}, more...),
		Roots: []lock.Root{{Name: "amd64", Request: "sha256:" + strings.Repeat("1", 64)}}}
	l.Sort()
	data, err := lock.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	a := New(filepath.Join(dir, "monogres.toml"))
	if err := os.WriteFile(a.LockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), bytes.NewReader(src), in.SHA256, in.Size); err != nil {
		t.Fatal(err)
	}
	return a, st, in
}

func status(t *testing.T, a *App) Info {
	t.Helper()
	s, err := a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cells) != 1 || s.Cells[0].Name != stateCell {
		t.Fatalf("cells %+v, want only %s", s.Cells, stateCell)
	}
	return s.Cells[0]
}

// TestStatusFromStore: a cell's state is read back from the store in every
// new App (a new session): fetched needs every input, built needs the
// action cache to hold the cell's current key, verified a matching rebuild.
func TestStatusFromStore(t *testing.T) {
	ctx := context.Background()
	a, st, src := stateProject(t)

	// Inputs present, root not composed: fetched, no key yet.
	in := status(t, a)
	if in.State != event.StateFetched || in.Missing != 0 || in.RootComposed || in.ActionKey != "" || !strings.Contains(in.KeyReason, "not composed") {
		t.Fatalf("before the root is composed: %+v", in)
	}

	// The root composed (for real, from no packages): the key is known,
	// the action cache does not have it.
	root, err := toolchains.ComposeCached(ctx, st.Dir(), nil, func(context.Context, toolchains.Package) (io.ReadCloser, error) { return nil, os.ErrNotExist }, toolchains.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	in = status(t, a)
	if in.State != event.StateFetched || !in.RootComposed || len(in.ActionKey) != 64 || in.Cached || in.Log != "" {
		t.Fatalf("root composed, nothing built: %+v", in)
	}
	// The key is the one a build computes.
	c, err := a.cell(nil, in.Cell, mustLock(t, a), nil)
	if err != nil {
		t.Fatal(err)
	}
	act, err := build.NewAction(c, root.Digest, src.SourceDateEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if act.Key() != in.ActionKey {
		t.Fatalf("Status's key %s, a build's %s", in.ActionKey, act.Key())
	}

	// A build recorded in the action cache (as an earlier session's
	// build or the CLI's would): built, with its package and log.
	put := func(b string) string {
		sum := sha256.Sum256([]byte(b))
		h := hex.EncodeToString(sum[:])
		if err := st.Put(ctx, strings.NewReader(b), h, int64(len(b))); err != nil {
			t.Fatal(err)
		}
		return h
	}
	pkg, man := put("package bytes"), put("manifest bytes")
	logPath := build.LogPath(st, in.ActionKey)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("monogres: cell "+stateCell+" action "+in.ActionKey+"\nconfigure\nmake\nmonogres: smoke test took 4s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An older build of the cell under another key, and another cell's.
	old := strings.Repeat("e", 64)
	for _, l := range []struct{ key, cell string }{{old, stateCell}, {strings.Repeat("f", 64), "postgres~15.18~barebones~arm64"}} {
		p := build.LogPath(st, l.key)
		if err := os.WriteFile(p, []byte("monogres: cell "+l.cell+" action "+l.key+"\nfailed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// A build of this key ran and recorded nothing: unfinished.
	in = status(t, a)
	if in.State != event.StateFetched || !in.Unfinished || in.LastLine != "monogres: smoke test took 4s" || in.Log != logPath || in.Failed != "" {
		t.Fatalf("a log without a result: %+v", in)
	}
	// One the engine ended with its failure line: failed, with the reason.
	logText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, append(logText, build.FailedPrefix+"smoke test: exit status 3\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if in = status(t, New(a.ManifestPath)); in.State != event.StateFailed || in.Failed != "smoke test: exit status 3" {
		t.Fatalf("a failed build's log: %+v", in)
	}
	if err := os.WriteFile(logPath, logText, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := build.Record(st, build.ACEntry{Cell: stateCell, ActionKey: in.ActionKey, Package: pkg, Manifest: man, Log: logPath}); err != nil {
		t.Fatal(err)
	}
	in = status(t, New(a.ManifestPath))
	if in.State != event.StateBuilt || !in.Cached || in.Unfinished || in.Package != pkg || in.PackagePath != st.Path(pkg) || in.Log != logPath {
		t.Fatalf("after a recorded build: %+v", in)
	}
	if tail, err := LogTail(in.Log, 2); err != nil || tail != "make\nmonogres: smoke test took 4s" {
		t.Errorf("LogTail = %q, %v", tail, err)
	}
	info, err := New(a.ManifestPath).Info(ctx, stateCell)
	if err != nil || info.ActionKey != in.ActionKey || info.State != event.StateBuilt || len(info.Inputs) != 1 || info.Inputs[0].Name != "postgres/15" || !info.Inputs[0].Present {
		t.Errorf("Info = %+v, %v", info, err)
	}
	if len(info.Logs) != 2 || info.Logs[0].Path != logPath || info.Logs[1].ActionKey != old {
		t.Errorf("past logs %+v, want this key's then the older one", info.Logs)
	}
	if _, err := a.Info(ctx, "postgres~15.18~full~amd64"); err == nil {
		t.Error("Info of a cell the matrix does not have: no error")
	}

	// A verify whose rebuild matched, and the build's duration: recorded
	// by RecordResults, read back by a new session.
	res := []build.Result{{Cell: stateCell, State: event.StateVerified, ActionKey: in.ActionKey, Package: pkg, Rebuilt: pkg},
		{Cell: stateCell, State: event.StateBuilt, ActionKey: in.ActionKey, Package: pkg, Duration: 7*time.Minute + 5*time.Second}}
	if err := RecordResults(st, res); err != nil {
		t.Fatal(err)
	}
	in = status(t, New(a.ManifestPath))
	if in.State != event.StateVerified || !in.Verified || in.Took != 7*time.Minute+5*time.Second {
		t.Fatalf("after a recorded verify and build: %+v", in)
	}
	// A rebuild that differed verifies nothing.
	if err := RecordResults(st, []build.Result{{Cell: stateCell, State: event.StateFailed, ActionKey: in.ActionKey, Package: pkg, Rebuilt: man}}); err != nil {
		t.Fatal(err)
	}
	if in = status(t, a); in.State != event.StateVerified {
		t.Errorf("a failed verify changed the recorded state: %+v", in)
	}

	// The source gone from the store: the cell is no longer fetched, nor
	// is its key known.
	if err := os.Remove(st.Path(src.SHA256)); err != nil {
		t.Fatal(err)
	}
	in = status(t, a)
	if in.State != event.StateLocked || in.Missing != 1 || in.Inputs[0].Present || in.ActionKey != "" {
		t.Errorf("source missing: %+v", in)
	}
}

// TestStatusExtensionNeedsParent: an extension cell is fetched only when
// its parent Postgres cell's inputs are in the store too (a build of it
// fetches them), and its detail lists them.
func TestStatusExtensionNeedsParent(t *testing.T) {
	ctx := context.Background()
	archive := []byte("a stand-in for demo-1.0.tar.gz")
	sum := sha256.Sum256(archive)
	ext := lock.Input{Name: "extension/demo/1.0", Kind: lock.KindExtension, Version: "1.0", URLs: []string{"https://example.invalid/demo-1.0.tar.gz"},
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(archive)), StripPrefix: "demo-1.0"}
	toml := "\n[[extension]]\nname = \"demo\"\nversions = [\"1.0\"]\nbuild = \"pgxs\"\n\n[[extension.release]]\nversion = \"1.0\"\nsha256 = \"" + ext.SHA256 + "\"\nurl = \"" + ext.URLs[0] + "\"\n"
	a, st, src := stateProjectWith(t, toml, []lock.Input{ext})
	const cell = "demo~1.0~postgres~15.18~barebones~amd64"
	info := func() *Info {
		t.Helper()
		in, err := a.Info(ctx, cell)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	x := info()
	var names []string
	for _, in := range x.Inputs {
		names = append(names, in.Name)
	}
	if strings.Join(names, " ") != "extension/demo/1.0 postgres/15" || x.Missing != 1 || x.State != event.StateLocked {
		t.Fatalf("extension cell with its own source missing: inputs %v, %+v", names, x)
	}
	if err := st.Put(ctx, bytes.NewReader(archive), ext.SHA256, ext.Size); err != nil {
		t.Fatal(err)
	}
	if x = info(); x.Missing != 0 || x.State != event.StateFetched {
		t.Fatalf("both sources in the store: %+v", x)
	}
	// Its own source present, the parent's gone: not fetched.
	if err := os.Remove(st.Path(src.SHA256)); err != nil {
		t.Fatal(err)
	}
	if x = info(); x.Missing != 1 || x.State != event.StateLocked {
		t.Errorf("the parent's source missing: %+v", x)
	}
	s, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cells) != 2 || s.Cells[1].Name != cell || s.Cells[1].State != event.StateLocked {
		t.Errorf("Status disagrees with Info: %+v", s.Cells)
	}
}

// TestStatusLock: a lock made for another manifest is stale and says so; no
// lock leaves every cell unlocked, saying why.
func TestStatusLock(t *testing.T) {
	a, _, _ := stateProject(t)
	s, err := a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Stale) == 0 || !strings.Contains(strings.Join(s.Stale, "; "), "manifest") {
		t.Errorf("a lock of another manifest: stale reasons %q", s.Stale)
	}
	if err := os.Remove(a.LockPath); err != nil {
		t.Fatal(err)
	}
	s, err = a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !s.NoLock || s.Cells[0].State != "" || !strings.Contains(s.Cells[0].LockErr, "run `monogres lock`") {
		t.Errorf("no lock: %+v", s)
	}
}

func mustLock(t *testing.T, a *App) *lock.Lock {
	t.Helper()
	_, l, err := ReadLock(a.LockPath)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// BenchmarkStatus reads the state of the repository's matrix (160 cells,
// its lock, its toolchain roots) against an empty store: what the TUI does
// on every reload.
func BenchmarkStatus(b *testing.B) {
	dir := b.TempDir()
	b.Setenv("MONOGRES_STORE", filepath.Join(dir, "store"))
	for _, f := range []string{"monogres.toml", "monogres.lock"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	a := New(filepath.Join(dir, "monogres.toml"))
	b.ResetTimer()
	for b.Loop() {
		s, err := a.Status(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(s.Cells)), "cells")
	}
}
