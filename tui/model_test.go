package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"github.com/monogres/monogres/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkGolden compares the view, without escape sequences, with
// testdata/golden/name.txt, and checks it fits the terminal.
func checkGolden(t *testing.T, h *harness, name string) {
	t.Helper()
	got := ansi.Strip(h.m.render())
	lines := strings.Split(got, "\n")
	if len(lines) > h.m.height {
		t.Errorf("%s: %d lines on a %d-line terminal", name, len(lines), h.m.height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > h.m.width {
			t.Errorf("%s: line %d is %d wide on a %d-column terminal: %q", name, i+1, w, h.m.width, l)
		}
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s: view differs from %s (-want +got):\n%s", name, path, diff)
	}
}

func sizes() []struct{ w, h int } { return []struct{ w, h int }{{80, 24}, {160, 48}} }

func sizeName(name string, w, h int) string {
	return fmt.Sprintf("%s_%dx%d", name, w, h)
}

// selectThree selects postgres 17.0 barebones amd64+arm64 and
// pg_similarity's barebones arm64 cell under it.
func selectThree(h *harness) {
	h.press("space", "right", "space", "down", "space")
}

var threeCells = []string{
	"postgres~17.0~barebones~amd64",
	"postgres~17.0~barebones~arm64",
	"pg_similarity~1.0~postgres~17.0~barebones~arm64",
}

// progressScript emits a fetch, a running build with steps and a log, and a
// finished cell, then waits for cancellation.
func progressScript(ready chan<- struct{}) func(context.Context, string, []string, event.Sink) error {
	return func(ctx context.Context, kind string, cells []string, sink event.Sink) error {
		em := func(e event.Event) { sink.Emit(e) }
		em(event.Event{Time: at(0), Kind: event.Started, Phase: event.PhaseFetch, Item: "postgres/17.0"})
		em(event.Event{Time: at(4), Kind: event.Progress, Phase: event.PhaseFetch, Item: "postgres/17.0", Unit: "bytes", Done: 12 << 20, Total: 24 << 20})
		em(event.Event{Time: at(1), Kind: event.Started, Phase: event.PhaseBuild, Item: cells[0]})
		em(event.Event{Time: at(31), Kind: event.Progress, Phase: event.PhaseBuild, Item: cells[0], Unit: "steps", Done: 2, Total: 5, Line: "building"})
		for _, l := range []string{"checking for gcc... gcc", "checking whether the C compiler works... yes", "gcc -Wall -O2 -c -o parser.o parser.c"} {
			em(event.Event{Time: at(31), Kind: event.Log, Phase: event.PhaseBuild, Item: cells[0], Line: l})
		}
		em(event.Event{Time: at(2), Kind: event.Started, Phase: event.PhaseBuild, Item: cells[1]})
		em(event.Event{Time: at(50), Kind: event.Finished, Phase: event.PhaseBuild, Item: cells[1], State: event.StateBuilt})
		// A queued cell is not finished.
		em(event.Event{Time: at(50), Kind: event.Queued, Phase: event.PhaseBuild, Item: cells[2], State: event.StateQueued})
		em(event.Event{Time: at(51), Kind: event.Started, Phase: event.PhaseBuild, Item: cells[2]})
		if ready != nil {
			close(ready)
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// failScript fails the first cell with a log and an error.
func failScript(ctx context.Context, kind string, cells []string, sink event.Sink) error {
	em := func(e event.Event) { sink.Emit(e) }
	em(event.Event{Time: at(0), Kind: event.Started, Phase: event.PhaseBuild, Item: cells[0]})
	for _, l := range []string{"gcc -c -o pg_similarity.o pg_similarity.c", "pg_similarity.c:12:10: fatal error: postgres.h: No such file or directory", "make: *** [GNUmakefile:11: all] Error 2"} {
		em(event.Event{Time: at(5), Kind: event.Log, Phase: event.PhaseBuild, Item: cells[0], Line: l})
	}
	em(event.Event{Time: at(6), Kind: event.Finished, Phase: event.PhaseBuild, Item: cells[0], State: event.StateFailed, Err: "make: exit status 2"})
	return errors.New("1 of 1 cells failed")
}

func sampleDiff() LockDiff {
	return LockDiff{
		Path: "monogres.lock",
		Changes: []Change{
			{Kind: Updated, Name: "postgres/17",
				Old: InputSummary{Version: "17.0", SHA256: "7e0c5f3a6b1c2d4e5f60718293a4b5c6d7e8f9012345678901234567890abcd", URLs: []string{"https://ftp.postgresql.org/pub/source/v17.0/postgresql-17.0.tar.bz2"}},
				New: InputSummary{Version: "17.2", SHA256: "82ef27c0af3751695d7f64e2d963583005fbb6a0c3df63d0e4b42211d7021164", URLs: []string{"https://ftp.postgresql.org/pub/source/v17.2/postgresql-17.2.tar.bz2"}}},
			{Kind: Added, Name: "pg_similarity",
				New: InputSummary{Version: "1.0", SHA256: "4b4ce3c4bd0c8a3b7a4b0b4b1d5f22fd1e3e9b9cbd0e0f1a2b3c4d5e6f708192", URLs: []string{"https://deb.debian.org/debian/pool/main/p/pg-similarity/pg-similarity_1.0.orig.tar.gz"}}},
			{Kind: Removed, Name: "deb/amd64/libicu72",
				Old: InputSummary{Version: "72.1-3", SHA256: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"}},
		},
		Pending: "the new lock",
	}
}

func TestGoldenViews(t *testing.T) {
	for _, sz := range sizes() {
		t.Run(sizeName("matrix", sz.w, sz.h), func(t *testing.T) {
			h := newHarness(t, &fakeDriver{cells: sampleCells()}, sz.w, sz.h)
			h.press("down", "down", "down", "right", "space", "right", "right", "space")
			h.waitDetail()
			checkGolden(t, h, sizeName("matrix", sz.w, sz.h))
		})
		t.Run(sizeName("progress", sz.w, sz.h), func(t *testing.T) {
			ready := make(chan struct{})
			d := &fakeDriver{cells: sampleCells(), script: progressScript(ready)}
			h := newHarness(t, d, sz.w, sz.h)
			selectThree(h)
			h.press("b")
			h.waitFor("progress events", func() bool {
				return h.m.job != nil && h.m.job.finished == 1 && len(h.m.items) == 3 && len(h.m.logs[threeCells[0]]) == 3
			})
			h.press("up", "left") // cursor on the cell with steps and log
			h.waitDetail()
			h.now = at(62)
			checkGolden(t, h, sizeName("progress", sz.w, sz.h))
		})
		// Cells built in an earlier session (by the CLI): built and
		// verified from the store, with the detail and log of one.
		t.Run(sizeName("cached", sz.w, sz.h), func(t *testing.T) {
			h := newHarness(t, &fakeDriver{cells: sampleCells()}, sz.w, sz.h)
			h.press("j", "j", "j", "j", "j", "j") // postgres 15.18 barebones amd64
			h.waitDetail()
			checkGolden(t, h, sizeName("cached", sz.w, sz.h))
		})
		t.Run(sizeName("stale", sz.w, sz.h), func(t *testing.T) {
			d := &fakeDriver{cells: sampleCells(), stale: []string{
				"the toolchain request changed: its Debian packages must be resolved again",
				"input postgres/18 is locked but the manifest no longer asks for it",
			}}
			h := newHarness(t, d, sz.w, sz.h)
			h.waitDetail()
			checkGolden(t, h, sizeName("stale", sz.w, sz.h))
		})
		t.Run(sizeName("detail", sz.w, sz.h), func(t *testing.T) {
			h := newHarness(t, &fakeDriver{cells: sampleCells()}, sz.w, sz.h)
			h.press("l", "l", "l", "l", "l", "l", "l", "l", "l") // postgres 17.0 debug arm64
			h.waitDetail()
			h.press("i")
			checkGolden(t, h, sizeName("detail", sz.w, sz.h))
		})
		t.Run(sizeName("lock", sz.w, sz.h), func(t *testing.T) {
			h := newHarness(t, &fakeDriver{cells: sampleCells(), diff: sampleDiff()}, sz.w, sz.h)
			h.press("L")
			h.waitFor("lock diff", func() bool { return h.m.mode == modeLock })
			checkGolden(t, h, sizeName("lock", sz.w, sz.h))
		})
		t.Run(sizeName("error", sz.w, sz.h), func(t *testing.T) {
			d := &fakeDriver{cells: sampleCells(), script: failScript}
			h := newHarness(t, d, sz.w, sz.h)
			h.press("down") // pg_similarity 1.0 under 17.0
			h.press("b")
			h.now = at(7)
			h.waitFor("build to fail", func() bool { return h.m.job == nil && h.m.statusErr })
			h.waitDetail()
			checkGolden(t, h, sizeName("error", sz.w, sz.h))
		})
	}
	t.Run("cells_error_80x24", func(t *testing.T) {
		h := newHarness(t, &fakeDriver{cellsErr: errors.New(`monogres.toml:7:12: option set "fastest" is not one of barebones, minimal, regular, full, debug`)}, 80, 24)
		checkGolden(t, h, "cells_error_80x24")
	})
	t.Run("help_80x24", func(t *testing.T) {
		h := newHarness(t, &fakeDriver{cells: sampleCells()}, 80, 24)
		h.press("?")
		checkGolden(t, h, "help_80x24")
	})
}

func TestNavigation(t *testing.T) {
	h := newHarness(t, &fakeDriver{cells: sampleCells()}, 60, 24)
	m := h.m
	if got := m.curName(); got != "postgres~17.0~barebones~amd64" {
		t.Fatalf("initial cursor on %q", got)
	}
	h.press("j", "l", "l")
	if got := m.curName(); got != "pg_similarity~1.0~postgres~17.0~minimal~amd64" {
		t.Errorf("after j l l: cursor on %q", got)
	}
	h.press("down", "right", "up", "left", "k", "h", "h")
	if got := m.curName(); got != "postgres~17.0~barebones~amd64" {
		t.Errorf("arrows and hjkl disagree: cursor on %q", got)
	}
	h.press("G")
	if got := m.curName(); got != "numeral~1.3~postgres~15.18~barebones~amd64" {
		t.Errorf("after G: cursor on %q", got)
	}
	// Debug exists only for 17.0: the rightmost column is empty here.
	h.press("l", "l", "l", "l", "l", "l", "l", "l", "l", "l", "l")
	if m.cur.col != len(m.g.cols)-1 || m.curCell() != -1 {
		t.Errorf("rightmost column: col %d cell %d, want col %d and no cell", m.cur.col, m.curCell(), len(m.g.cols)-1)
	}
	if m.left == 0 {
		t.Errorf("moving right at 60 columns did not scroll the columns")
	}
	h.press("g")
	if m.cur.row != 0 || m.top != 0 {
		t.Errorf("after g: row %d top %d", m.cur.row, m.top)
	}
}

func TestFilter(t *testing.T) {
	h := newHarness(t, &fakeDriver{cells: sampleCells()}, 80, 24)
	m := h.m
	h.press("/")
	h.typeText("15.18")
	h.press("enter")
	if m.mode != modeMatrix || m.filter != "15.18" {
		t.Fatalf("mode %v filter %q", m.mode, m.filter)
	}
	if len(m.g.vis) != 3 {
		t.Errorf("filter 15.18 shows %d rows, want 3", len(m.g.vis))
	}
	if !strings.Contains(m.curName(), "15.18") {
		t.Errorf("cursor on %q, outside the filter", m.curName())
	}
	// A glob over the whole name: only arm64 Postgres cells of 16.4.
	h.press("/", "ctrl+u")
	h.send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	h.typeText("postgres~16.*~arm64")
	h.press("enter")
	var shown []string
	for _, ri := range m.g.vis {
		for _, ci := range m.g.rows[ri].cells {
			if ci >= 0 && m.g.matches(int(ci)) {
				shown = append(shown, m.g.cells[ci].Name)
			}
		}
	}
	want := []string{"postgres~16.4~barebones~arm64", "postgres~16.4~minimal~arm64", "postgres~16.4~regular~arm64", "postgres~16.4~full~arm64"}
	if diff := cmp.Diff(want, shown); diff != "" {
		t.Errorf("glob filter (-want +got):\n%s", diff)
	}
	// a selects only what the filter shows; b builds exactly that.
	h.press("a", "b")
	h.waitFor("build", func() bool { return m.job == nil && len(h.d.builds) == 1 })
	if diff := cmp.Diff(want, h.d.builds[0]); diff != "" {
		t.Errorf("built (-want +got):\n%s", diff)
	}
	// esc clears the selection, then the filter.
	h.press("esc")
	if m.nsel != 0 || m.filter == "" {
		t.Errorf("first esc: %d selected, filter %q", m.nsel, m.filter)
	}
	h.press("esc")
	if m.filter != "" || len(m.g.vis) != len(m.g.rows) {
		t.Errorf("second esc: filter %q, %d of %d rows", m.filter, len(m.g.vis), len(m.g.rows))
	}
	// esc while typing restores the previous filter.
	h.press("/")
	h.typeText("numeral")
	h.press("esc")
	if m.filter != "" || len(m.g.vis) != len(m.g.rows) {
		t.Errorf("esc while typing kept filter %q", m.filter)
	}
}

func TestBuildSelectedCells(t *testing.T) {
	ready := make(chan struct{})
	d := &fakeDriver{cells: sampleCells(), script: progressScript(ready), returned: make(chan struct{})}
	h := newHarness(t, d, 80, 24)
	m := h.m
	selectThree(h)
	if m.nsel != 3 {
		t.Fatalf("%d selected, want 3", m.nsel)
	}
	h.press("b")
	for _, c := range threeCells {
		if st := m.state[m.g.index[c]]; st != event.StateQueued {
			t.Errorf("%s is %s right after b, want queued", c, st)
		}
	}
	h.waitFor("events", func() bool { return m.job != nil && m.job.finished == 1 && len(m.items) == 3 })
	if diff := cmp.Diff([][]string{threeCells}, d.builds); diff != "" {
		t.Errorf("Driver.Build cells (-want +got):\n%s", diff)
	}
	wantStates := []event.State{event.StateRunning, event.StateBuilt, event.StateRunning}
	for i, c := range threeCells {
		if st := m.state[m.g.index[c]]; st != wantStates[i] {
			t.Errorf("%s is %s, want %s", c, st, wantStates[i])
		}
	}
	// A second build while one runs is refused.
	h.press("v")
	if len(d.verifies) != 0 || !m.statusErr {
		t.Errorf("verify started while a build ran (status %q)", m.status)
	}
	// x cancels: the Driver sees its context end, unfinished cells go back.
	h.press("x")
	h.waitClosed("Driver.Build to return", d.returned)
	h.waitFor("job end", func() bool { return m.job == nil })
	if !strings.Contains(m.status, "build cancelled") {
		t.Errorf("status after cancel: %q", m.status)
	}
	if st := m.state[m.g.index[threeCells[0]]]; st != event.StateLocked {
		t.Errorf("cancelled cell is %s, want its old state locked", st)
	}
	if st := m.state[m.g.index[threeCells[1]]]; st != event.StateBuilt {
		t.Errorf("finished cell is %s, want built", st)
	}
}

func TestVerifyCurrentCell(t *testing.T) {
	d := &fakeDriver{cells: sampleCells(), script: func(ctx context.Context, kind string, cells []string, sink event.Sink) error {
		for _, c := range cells {
			sink.Emit(event.Event{Kind: event.Started, Phase: event.PhaseVerify, Item: c})
			sink.Emit(event.Event{Kind: event.Finished, Phase: event.PhaseVerify, Item: c, State: event.StateVerified})
		}
		return nil
	}}
	h := newHarness(t, d, 80, 24)
	h.press("G", "v")
	h.waitFor("verify", func() bool { return h.m.job == nil && len(d.verifies) == 1 })
	if diff := cmp.Diff([][]string{{"numeral~1.3~postgres~15.18~barebones~amd64"}}, d.verifies); diff != "" {
		t.Errorf("verified (-want +got):\n%s", diff)
	}
	if st := h.m.state[h.m.curCell()]; st != event.StateVerified {
		t.Errorf("state %s, want verified", st)
	}
	if h.m.status != "verify finished in 0s: 1 cell ok" {
		t.Errorf("status %q", h.m.status)
	}
}

func TestLockDiffRejectThenAccept(t *testing.T) {
	d := &fakeDriver{cells: sampleCells(), diff: sampleDiff()}
	h := newHarness(t, d, 80, 24)
	h.m.opts.LockUpdate = []string{"postgres/17"}
	h.press("L")
	h.waitFor("lock view", func() bool { return h.m.mode == modeLock })
	h.press("n")
	if h.m.mode != modeMatrix || len(d.applied) != 0 {
		t.Fatalf("after n: mode %v, %d locks written", h.m.mode, len(d.applied))
	}
	h.press("L")
	h.waitFor("lock view", func() bool { return h.m.mode == modeLock })
	h.press("esc")
	if len(d.applied) != 0 {
		t.Fatalf("esc wrote the lock")
	}
	d.mu.Lock()
	d.cells = d.cells[:len(d.cells)-2] // the new lock changes the matrix
	d.mu.Unlock()
	h.press("L")
	h.waitFor("lock view", func() bool { return h.m.mode == modeLock })
	h.press("y")
	h.waitFor("lock written and matrix reloaded", func() bool { return h.m.mode == modeMatrix && len(h.m.g.cells) == len(d.cells) })
	if len(d.applied) != 1 || d.applied[0].Pending != "the new lock" || len(d.applied[0].Changes) != 3 {
		t.Errorf("ApplyLock got %+v, want the diff that was shown", d.applied)
	}
	if diff := cmp.Diff([][]string{{"postgres/17"}, {"postgres/17"}, {"postgres/17"}}, d.updates); diff != "" {
		t.Errorf("LockDiff update names (-want +got):\n%s", diff)
	}
	if h.m.status != "wrote monogres.lock (3 changes)" {
		t.Errorf("status %q", h.m.status)
	}
}

func TestLockApplyError(t *testing.T) {
	d := &fakeDriver{cells: sampleCells(), diff: sampleDiff(), applyErr: errors.New("monogres.lock: permission denied")}
	h := newHarness(t, d, 80, 24)
	h.press("L")
	h.waitFor("lock view", func() bool { return h.m.mode == modeLock })
	h.press("enter")
	h.waitFor("apply result", func() bool { return !h.m.lockBusy })
	if h.m.mode != modeLock || !strings.Contains(ansi.Strip(h.m.render()), "writing the lock failed: monogres.lock: permission denied") {
		t.Errorf("apply error not shown in the lock view:\n%s", ansi.Strip(h.m.render()))
	}
}

func TestQuitCancelsRunningWork(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		t.Run(k, func(t *testing.T) {
			ready := make(chan struct{})
			d := &fakeDriver{cells: sampleCells(), script: progressScript(ready), returned: make(chan struct{})}
			h := newHarness(t, d, 80, 24)
			selectThree(h)
			h.press("b")
			h.waitClosed("build started", ready)
			h.press(k)
			if !h.m.quitting {
				t.Fatal("not quitting")
			}
			h.waitFor("tea.Quit", func() bool { return h.quit })
			h.waitClosed("Driver.Build to return", d.returned) // it saw its context cancelled
			if got := h.m.interrupted; got != (k == "ctrl+c") {
				t.Errorf("interrupted=%v after %s", got, k)
			}
		})
	}
}

func TestLogOfSelectedCell(t *testing.T) {
	d := &fakeDriver{cells: sampleCells(), logs: map[string]string{
		"postgres~15.18~barebones~amd64": "make -C src all\nAll of PostgreSQL successfully made. Ready to install.\n",
	}}
	h := newHarness(t, d, 80, 24)
	// Down to postgres 15.18 (row 6), which is built.
	h.press("j", "j", "j", "j", "j", "j")
	if h.m.curName() != "postgres~15.18~barebones~amd64" {
		t.Fatalf("cursor on %q", h.m.curName())
	}
	h.waitFor("log", func() bool { return h.m.details["postgres~15.18~barebones~amd64"] != nil })
	if v := ansi.Strip(h.m.render()); !strings.Contains(v, "All of PostgreSQL successfully made.") {
		t.Errorf("log tail not shown:\n%s", v)
	}
	h.press("enter")
	h.waitFor("full log", func() bool { return h.m.driverLog["postgres~15.18~barebones~amd64"] != "" })
	if h.m.mode != modeLog || !strings.Contains(ansi.Strip(h.m.render()), "make -C src all") {
		t.Errorf("full log view:\n%s", ansi.Strip(h.m.render()))
	}
	h.press("esc")
	if h.m.mode != modeMatrix {
		t.Errorf("esc did not leave the log view")
	}
	if n := slices.Index(d.logCalls, "postgres~15.18~barebones~amd64"); n < 0 {
		t.Errorf("Driver.Log not called: %v", d.logCalls)
	}
}

// TestPastLogs: the log view pages through the cell's older build logs
// from the store with [ and ].
func TestPastLogs(t *testing.T) {
	cell := "postgres~15.18~barebones~amd64"
	var c Cell
	for _, x := range sampleCells() {
		if x.Name == cell {
			c = x
		}
	}
	det := sampleDetail(c)
	det.Logs = []PastLog{
		{Path: "/store/ac/logs/new.log", Key: det.ActionKey, Time: at(100)},
		{Path: "/store/ac/logs/old.log", Key: fakeSHA("old"), Time: at(0)},
	}
	d := &fakeDriver{cells: sampleCells(), details: map[string]Detail{cell: det}, logs: map[string]string{
		cell: "the current build\nsmoke test passed", "/store/ac/logs/old.log": "an older build\nerror: exit status 2",
	}}
	h := newHarness(t, d, 80, 24)
	h.press("j", "j", "j", "j", "j", "j")
	h.waitDetail()
	h.press("enter")
	h.waitFor("current log", func() bool { return h.m.driverLog[cell] != "" })
	if v := ansi.Strip(h.m.render()); !strings.Contains(v, "smoke test passed") || !strings.Contains(v, "2 in the store") {
		t.Errorf("current log view:\n%s", v)
	}
	h.press("[", "[")
	h.waitFor("older log", func() bool { return h.m.pastLog["/store/ac/logs/old.log"] != "" })
	v := ansi.Strip(h.m.render())
	if !strings.Contains(v, "past log 2 of 2") || !strings.Contains(v, "error: exit status 2") || strings.Contains(v, "smoke test passed") {
		t.Errorf("older log view:\n%s", v)
	}
	h.press("[") // no older one: stays
	h.press("]", "]")
	if v := ansi.Strip(h.m.render()); h.m.logIdx != -1 || !strings.Contains(v, "smoke test passed") {
		t.Errorf("back to the current log (idx %d):\n%s", h.m.logIdx, v)
	}
}

func TestResize(t *testing.T) {
	h := newHarness(t, &fakeDriver{cells: bigCells()}, 160, 48)
	h.press("G")
	h.send(tea.WindowSizeMsg{Width: 30, Height: 8})
	if v := h.m.render(); !strings.Contains(v, "terminal too small") {
		t.Errorf("tiny terminal:\n%s", v)
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	v := ansi.Strip(h.m.render())
	if !strings.Contains(v, "1000/1000") || len(strings.Split(v, "\n")) != 24 {
		t.Errorf("after resize to 80x24 the cursor row is not shown or the screen is not 24 lines:\n%s", v)
	}
	if h.m.top != len(h.m.g.vis)-h.m.layout().rows {
		t.Errorf("top %d, want %d", h.m.top, len(h.m.g.vis)-h.m.layout().rows)
	}
}

func TestNoColor(t *testing.T) {
	d := &fakeDriver{cells: sampleCells()}
	h := newHarness(t, d, 80, 24)
	if v := h.m.render(); strings.Contains(v, "[38;") || strings.Contains(v, ";38;") {
		t.Errorf("NoColor view has colour sequences: %q", v)
	}
	h.m.st = newStyles(false)
	if v := h.m.render(); !strings.Contains(v, "38;") {
		t.Errorf("colour view has no colour sequences")
	}
}
