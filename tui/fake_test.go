package tui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/monogres/monogres/internal/event"
)

// fakeDriver is a Driver whose Build/Verify run a script given by the test.
type fakeDriver struct {
	mu       sync.Mutex
	cells    []Cell
	stale    []string
	cellsErr error
	details  map[string]Detail
	// lockMsgs are sent as Message events by LockDiff, the way the real
	// driver reports resolving the toolchain.
	lockMsgs []string
	script   func(ctx context.Context, kind string, cells []string, sink event.Sink) error
	diff     LockDiff
	diffErr  error
	applyErr error

	builds   [][]string
	verifies [][]string
	fetches  [][]string
	updates  [][]string
	applied  []LockDiff
	logCalls []string
	logs     map[string]string
	// returned is closed by Build/Verify when they return.
	returned chan struct{}
}

func (d *fakeDriver) Cells(ctx context.Context) (Matrix, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Matrix{Cells: append([]Cell(nil), d.cells...), LockPath: "/p/monogres.lock", Stale: d.stale}, d.cellsErr
}

func (d *fakeDriver) Detail(ctx context.Context, cell string) (Detail, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if x, ok := d.details[cell]; ok {
		return x, nil
	}
	for _, c := range d.cells {
		if c.Name == cell {
			x := sampleDetail(c)
			if l, ok := d.logs[cell]; ok {
				x.LogTail = l
			}
			return x, nil
		}
	}
	return Detail{}, fmt.Errorf("no cell %s", cell)
}

// fakeSHA is a stable made-up sha256 for s.
func fakeSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// sampleDetail is what a store would say of c: inputs present once it is
// fetched, an action key, cached package and log once it is built.
func sampleDetail(c Cell) Detail {
	d := Detail{Name: c.Name, State: c.State, RootPackages: 121, RootKey: fakeSHA("root " + c.Arch + c.OptionSet), Took: c.Took}
	switch c.OptionSet {
	case "regular", "full", "debug":
		d.Options = []string{"icu", "lz4", "openssl", "zstd"}
	case "minimal":
		d.Options = []string{"zstd"}
	}
	if c.OptionSet == "debug" && c.Arch == "arm64" {
		d.Dropped = []Dropped{{"llvm", "unsupported on arm64, see target.arm64.unsupported"}}
	}
	have := c.State != event.StateLocked
	major, _, _ := strings.Cut(c.Postgres, ".")
	d.Inputs = []Input{{Name: "postgres/" + major, Version: c.Postgres, SHA256: fakeSHA(c.Postgres), Present: have}}
	if c.Extension != "" {
		d.Inputs = append(d.Inputs, Input{Name: "extension/" + c.Extension + "/" + c.ExtensionVersion, Version: c.ExtensionVersion, SHA256: fakeSHA(c.Extension), Present: have})
	}
	for _, p := range []string{"gcc-12", "make", "libc6-dev"} {
		d.Inputs = append(d.Inputs, Input{Name: "deb/amd64/" + p, Version: "12.2.0-14", SHA256: fakeSHA(p), Present: have})
	}
	switch c.State {
	case event.StateLocked:
		d.KeyReason = "inputs missing from the store: run `monogres fetch`"
	case event.StateFetched:
		d.KeyReason = "its toolchain root is not composed yet (a build composes it)"
	default:
		d.RootComposed = true
		d.ActionKey = fakeSHA("action " + c.Name)
		d.Cached = c.State == event.StateBuilt || c.State == event.StateVerified || c.State == event.StateCached
		d.Verified = c.State == event.StateVerified
		d.Log = "/store/ac/logs/" + d.ActionKey[:16] + ".log"
		if c.State == event.StateFailed {
			d.Failed = "smoke test: exit status 3"
		}
		if d.Cached {
			pkg := fakeSHA("package " + c.Name)
			d.PackagePath = "/store/cas/" + pkg[:2] + "/" + pkg[2:18]
			d.LogTail = "make -C src install\nmonogres: packaged in 3.2s\nmonogres: smoke test took 4.1s"
		}
	}
	return d
}

func (d *fakeDriver) run(ctx context.Context, kind string, cells []string, sink event.Sink) error {
	d.mu.Lock()
	switch kind {
	case "build":
		d.builds = append(d.builds, cells)
	case "fetch":
		d.fetches = append(d.fetches, cells)
	default:
		d.verifies = append(d.verifies, cells)
	}
	script, ret := d.script, d.returned
	d.mu.Unlock()
	if ret != nil {
		defer close(ret)
	}
	if script == nil {
		return nil
	}
	// The store keeps what a build made: Cells reports it afterwards.
	store := event.Func(func(e event.Event) {
		if e.Kind == event.Finished {
			d.finished(e.Item, e.State)
		}
		sink.Emit(e)
	})
	return script(ctx, kind, cells, store)
}

func (d *fakeDriver) finished(cell string, st event.State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st == event.StateCached {
		st = event.StateBuilt
	}
	for i := range d.cells {
		if d.cells[i].Name == cell && (st == event.StateBuilt || st == event.StateVerified) {
			d.cells[i].State = st
		}
	}
}

func (d *fakeDriver) Build(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, "build", cells, sink)
}

func (d *fakeDriver) Verify(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, "verify", cells, sink)
}

func (d *fakeDriver) Fetch(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, "fetch", cells, sink)
}

func (d *fakeDriver) LockDiff(ctx context.Context, update []string, sink event.Sink) (LockDiff, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lockMsgs {
		sink.Emit(event.Event{Kind: event.Message, Phase: event.PhaseLock, Line: l})
	}
	d.updates = append(d.updates, update)
	return d.diff, d.diffErr
}

func (d *fakeDriver) ApplyLock(ctx context.Context, diff LockDiff) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applied = append(d.applied, diff)
	return d.applyErr
}

func (d *fakeDriver) Log(cell, path string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logCalls = append(d.logCalls, cell)
	if path != "" {
		return d.logs[path], nil
	}
	return d.logs[cell], nil
}

// base is the fixed clock of the tests.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleCells is a small matrix: three Postgres versions, five option sets
// (debug only for 17.0), two arches, two extensions under each version.
func sampleCells() []Cell {
	var cells []Cell
	for _, pg := range []string{"17.0", "16.4", "15.18"} {
		for _, ext := range []struct{ name, ver string }{{"", ""}, {"pg_similarity", "1.0"}, {"numeral", "1.3"}} {
			for _, opt := range []string{"barebones", "minimal", "regular", "full", "debug"} {
				if opt == "debug" && pg != "17.0" {
					continue
				}
				for _, arch := range []string{"amd64", "arm64"} {
					name := fmt.Sprintf("postgres~%s~%s~%s", pg, opt, arch)
					if ext.name != "" {
						name = fmt.Sprintf("%s~%s~%s", ext.name, ext.ver, name)
					}
					st := event.StateLocked
					switch {
					case pg == "15.18" && ext.name == "":
						st = event.StateBuilt
					case pg == "16.4" && opt == "regular":
						st = event.StateCached
					case pg == "16.4" && arch == "amd64" && ext.name == "":
						st = event.StateFetched
					case pg == "15.18" && opt == "minimal":
						st = event.StateVerified
					}
					var took time.Duration // the previous build's duration, known for some
					if ext.name == "" && (pg == "15.18" || opt == "barebones") {
						took = 7*time.Minute + 5*time.Second
					}
					cells = append(cells, Cell{Name: name, Postgres: pg, OptionSet: opt, Arch: arch,
						Extension: ext.name, ExtensionVersion: ext.ver, State: st, Took: took})
				}
			}
		}
	}
	return cells
}

// bigCells is a 10,000-cell matrix: 50 Postgres versions × 5 option sets ×
// 2 arches, with 19 extensions under each version.
func bigCells() []Cell {
	var cells []Cell
	opts := []string{"barebones", "minimal", "regular", "full", "debug"}
	states := []event.State{event.StateLocked, event.StateBuilt, event.StateCached, event.StateFetched, event.StateFailed}
	for v := range 50 {
		pg := fmt.Sprintf("%d.%d", 10+v/10, v%10)
		for e := range 20 {
			ext, extv := "", ""
			if e > 0 {
				ext, extv = fmt.Sprintf("ext%02d", e), "1.0"
			}
			for _, opt := range opts {
				for _, arch := range []string{"amd64", "arm64"} {
					name := fmt.Sprintf("postgres~%s~%s~%s", pg, opt, arch)
					if ext != "" {
						name = ext + "~" + extv + "~" + name
					}
					cells = append(cells, Cell{Name: name, Postgres: pg, OptionSet: opt, Arch: arch,
						Extension: ext, ExtensionVersion: extv, State: states[len(cells)%len(states)]})
				}
			}
		}
	}
	return cells
}

// harness runs the model's commands in goroutines and feeds their messages
// back into Update on the test goroutine, like bubbletea does.
type harness struct {
	t      testing.TB
	m      *model
	d      *fakeDriver
	msgs   chan tea.Msg
	now    time.Time // the model's clock
	quit   bool
	cancel context.CancelFunc
}

func newHarness(t testing.TB, d *fakeDriver, w, h int) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	m := newModel(ctx, d, Options{NoColor: true})
	hs := &harness{t: t, m: m, d: d, msgs: make(chan tea.Msg, 64), cancel: cancel, now: base}
	m.now = func() time.Time { return hs.now }
	t.Cleanup(func() {
		cancel()
		close(m.done)
		m.calls.close()
	})
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	hs.waitFor("matrix loaded", func() bool { return m.loaded || m.fatal != nil })
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { h.msgs <- cmd() }()
}

func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, tickMsg:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// press sends key presses by name ("up", "space", "ctrl+c", "L", "/").
func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.send(keyPress(k))
	}
}

// typeText sends each rune as a key press.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// waitFor processes messages until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitDetail processes messages until the detail of the cell under the
// cursor has arrived.
func (h *harness) waitDetail() {
	h.t.Helper()
	h.waitFor("the detail of "+h.m.curName(), func() bool { return h.m.details[h.m.curName()] != nil })
}

// waitClosed processes messages until ch is closed.
func (h *harness) waitClosed(what string, ch <-chan struct{}) {
	h.t.Helper()
	h.waitFor(what, func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	})
}

func keyPress(k string) tea.KeyPressMsg {
	special := map[string]rune{
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "backspace": tea.KeyBackspace,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
	}
	switch {
	case k == "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case k == "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case special[k] != 0:
		return tea.KeyPressMsg{Code: special[k]}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// at returns a time offset from base.
func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
