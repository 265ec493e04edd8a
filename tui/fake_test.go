package tui

import (
	"context"
	"fmt"
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
	return Detail{Name: cell, LogTail: d.logs[cell]}, nil
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
	return script(ctx, kind, cells, sink)
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

func (d *fakeDriver) Log(cell string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logCalls = append(d.logCalls, cell)
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
					cells = append(cells, Cell{Name: name, Postgres: pg, OptionSet: opt, Arch: arch,
						Extension: ext.name, ExtensionVersion: ext.ver, State: st})
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
