package tui

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/monogres/monogres/internal/event"
)

type mode int

const (
	modeMatrix mode = iota
	modeFilter
	modeLock
	modeHelp
	modeLog
	modeDetail
)

// logKeep is how many log lines are kept per item.
const logKeep = 200

// Messages.
type (
	cellsMsg struct {
		mx  Matrix
		err error
	}
	detailMsg struct {
		cell string
		d    Detail
		err  error
	}
	// eventsMsg is a batch of engine events, possibly ended by the result of
	// the Driver call that emitted them (same channel, so order is kept).
	eventsMsg struct {
		events []event.Event
		done   *jobDoneMsg
	}
	jobDoneMsg struct {
		kind string
		err  error
	}
	lockDiffMsg struct {
		diff LockDiff
		err  error
	}
	lockAppliedMsg struct {
		diff LockDiff
		err  error
	}
	logMsg struct {
		cell, path, text string
		err              error
	}
	tickMsg struct{}
)

// job is the Build or Verify call in flight.
type job struct {
	kind     string // "build", "verify" or "fetch"
	cells    []string
	set      map[string]bool
	cancel   context.CancelFunc
	start    time.Time
	finished int
	failed   int
	// bytes done and total of a fetch (its whole-run Progress events)
	done, total int64
	// prev is each cell's state before the job, restored for cells the
	// Driver never finished.
	prev      map[string]event.State
	cancelled bool
}

// item is a running item (input download, cell build) seen in events.
type item struct {
	name        string
	phase       event.Phase
	unit        string
	done, total int64
	step        string // the engine's name of the current step, if it gives one
	start, last time.Time
}

// tracker counts Driver calls in flight so Run can wait for them after the
// program ends; once closed, no new call starts.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (t *tracker) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// chanSink forwards events to the model's channel; it stops blocking once the
// UI is gone.
type chanSink struct {
	ch   chan<- any
	done <-chan struct{}
}

func (s chanSink) Emit(e event.Event) { s.send(e) }

func (s chanSink) send(v any) {
	select {
	case s.ch <- v:
	case <-s.done:
	}
}

// model is the bubbletea model of the whole UI.
type model struct {
	ctx    context.Context
	d      Driver
	opts   Options
	st     *styles
	keys   keyMap
	now    func() time.Time
	events chan any
	done   chan struct{}
	calls  *tracker

	width, height int
	mode          mode
	loaded        bool
	fatal         error // Cells failed; nothing else to show

	g     *grid
	state []event.State // per cell, updated by events; set with setState
	// session is how each cell finished in this session's jobs: it refines
	// the store's state on reload (cached rather than built, failed).
	session  map[string]event.State
	stale    []string // why the lock is out of date; empty when current
	lockFile string
	count    map[event.State]int
	selected []bool
	nsel     int
	cur      struct{ row, col int }
	top      int // first visible row
	left     int // first visible column
	filter   string
	oldFilt  string // filter before "/" was pressed, restored on esc

	job        *job
	items      map[string]*item
	logs       map[string][]string
	errs       map[string]string
	driverLog  map[string]string
	details    map[string]*Detail
	detailErr  map[string]string
	asked      map[string]bool // Detail asked and not answered yet
	detScroll  int
	logScroll  int
	logIdx     int               // the log view's log: -1 current, else index in the detail's Logs
	pastLog    map[string]string // past logs read, by path
	lock       *LockDiff
	lockBusy   bool
	lockErr    string
	lockScroll int

	status    string
	statusErr bool

	quitting    bool
	interrupted bool
}

func newModel(ctx context.Context, d Driver, opts Options) *model {
	m := &model{
		ctx:       ctx,
		d:         d,
		opts:      opts,
		st:        newStyles(opts.NoColor),
		keys:      newKeyMap(),
		now:       time.Now,
		events:    make(chan any, 1024),
		done:      make(chan struct{}),
		calls:     &tracker{},
		width:     80,
		height:    24,
		items:     map[string]*item{},
		logs:      map[string][]string{},
		errs:      map[string]string{},
		driverLog: map[string]string{},
		details:   map[string]*Detail{},
		pastLog:   map[string]string{},
		detailErr: map[string]string{},
		asked:     map[string]bool{},
		session:   map[string]event.State{},
		g:         newGrid(nil),
		count:     map[event.State]int{},
	}
	return m
}

// Init loads the matrix and starts listening for events.
func (m *model) Init() tea.Cmd {
	return tea.Batch(m.loadCells(), m.listen())
}

// call wraps a Driver call so Run can wait for it.
func (m *model) call(f func() tea.Msg) tea.Cmd {
	return func() tea.Msg {
		if !m.calls.start() {
			return nil
		}
		defer m.calls.wg.Done()
		return f()
	}
}

func (m *model) loadCells() tea.Cmd {
	return m.call(func() tea.Msg {
		mx, err := m.d.Cells(m.ctx)
		return cellsMsg{mx, err}
	})
}

// listen waits for the next events and returns them as one batch; Update
// re-arms it after each batch.
func (m *model) listen() tea.Cmd {
	ch, done := m.events, m.done
	return func() tea.Msg {
		var msg eventsMsg
		add := func(v any) bool {
			switch v := v.(type) {
			case event.Event:
				msg.events = append(msg.events, v)
			case jobDoneMsg:
				msg.done = &v
				return false
			}
			return len(msg.events) < 512
		}
		select {
		case v := <-ch:
			if !add(v) {
				return msg
			}
		case <-done:
			return nil
		}
		for {
			select {
			case v := <-ch:
				if !add(v) {
					return msg
				}
			default:
				return msg
			}
		}
	}
}

// Update handles one message.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.scrollIntoView()
	return m, cmd
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case cellsMsg:
		m.setCells(msg.mx, msg.err)
		return m.askDetail()
	case detailMsg:
		delete(m.asked, msg.cell)
		if msg.err != nil {
			m.detailErr[msg.cell] = msg.err.Error()
		} else {
			d := msg.d
			m.details[msg.cell] = &d
			delete(m.detailErr, msg.cell)
		}
	case eventsMsg:
		for _, e := range msg.events {
			m.apply(e)
		}
		if msg.done != nil {
			// The store has the truth now: states, logs, details.
			m.jobDone(*msg.done)
			return tea.Batch(m.listen(), m.loadCells())
		}
		return tea.Batch(m.listen(), m.askDetail())
	case tickMsg:
		if m.job != nil {
			return tick()
		}
	case lockDiffMsg:
		m.lockBusy = false
		if msg.err != nil {
			m.setStatus(true, "lock diff: %v", msg.err)
			return nil
		}
		d := msg.diff
		m.lock, m.lockErr, m.lockScroll, m.mode = &d, "", 0, modeLock
		m.status = ""
	case lockAppliedMsg:
		m.lockBusy = false
		if msg.err != nil {
			m.lockErr = fmt.Sprintf("writing the lock failed: %v", msg.err)
			return nil
		}
		m.lock, m.mode = nil, modeMatrix
		clear(m.session) // what this session built was keyed by the old lock
		m.setStatus(false, "wrote %s (%d %s)", lockPath(msg.diff), len(msg.diff.Changes), plural(len(msg.diff.Changes), "change"))
		return m.loadCells()
	case logMsg:
		text := msg.text
		if msg.err != nil {
			text = "(cannot read log: " + msg.err.Error() + ")"
		}
		if msg.path != "" {
			m.pastLog[msg.path] = text
		} else {
			m.driverLog[msg.cell] = text
		}
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return nil
}

func (m *model) setStatus(isErr bool, format string, args ...any) {
	m.status, m.statusErr = fmt.Sprintf(format, args...), isErr
}

func lockPath(d LockDiff) string {
	if d.Path == "" {
		return "the lock"
	}
	return d.Path
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// setCells replaces the matrix, keeping the cursor on the same cell and the
// selection of cells that still exist. Details are asked again.
func (m *model) setCells(mx Matrix, err error) {
	if err != nil {
		m.fatal = err
		return
	}
	cells := mx.Cells
	m.fatal = nil
	m.stale, m.lockFile = mx.Stale, mx.LockPath
	clear(m.details)
	clear(m.detailErr)
	clear(m.driverLog)
	curName := m.curName()
	var sel []string
	for i, s := range m.selected {
		if s {
			sel = append(sel, m.g.cells[i].Name)
		}
	}
	m.g = newGrid(cells)
	m.g.setFilter(m.filter)
	m.state = make([]event.State, len(cells))
	m.count = map[event.State]int{}
	for i, c := range cells {
		st := refine(c.State, m.session[c.Name])
		m.state[i] = st
		m.count[st]++
	}
	m.selected = make([]bool, len(cells))
	m.nsel = 0
	for _, n := range sel {
		if i, ok := m.g.index[n]; ok {
			m.selected[i] = true
			m.nsel++
		}
	}
	m.loaded = true
	if i, ok := m.g.index[curName]; ok {
		m.moveTo(i)
	}
	m.clampCursor()
}

// refine is the state shown for a cell the store says is in state stored
// and this session's last job finished as ended: the store wins, except
// that a cell found in the cache shows as cached and a failed build shows
// as failed until the cell is built.
func refine(stored, ended event.State) event.State {
	switch {
	case ended == event.StateCached && stored == event.StateBuilt:
		return event.StateCached
	case ended == event.StateFailed && stored != event.StateBuilt && stored != event.StateVerified:
		return event.StateFailed
	}
	return stored
}

func (m *model) curCell() int { return m.g.at(m.cur.row, m.cur.col) }

func (m *model) curName() string {
	if i := m.curCell(); i >= 0 {
		return m.g.cells[i].Name
	}
	return ""
}

// moveTo puts the cursor on cell i if its row is shown.
func (m *model) moveTo(i int) {
	r := int(m.g.cellRow[i])
	for vi, ri := range m.g.vis {
		if ri == r {
			m.cur.row, m.cur.col = vi, int(m.g.cellCol[i])
			return
		}
	}
}

func (m *model) clampCursor() {
	m.cur.row = clamp(m.cur.row, 0, len(m.g.vis)-1)
	m.cur.col = clamp(m.cur.col, 0, len(m.g.cols)-1)
}

func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}

// setState changes the state of cell i, keeping the counts.
func (m *model) setState(i int, st event.State) {
	m.count[m.state[i]]--
	m.count[st]++
	m.state[i] = st
}

// apply folds one event into the model.
func (m *model) apply(e event.Event) {
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	ci, isCell := -1, false
	if e.Item != "" {
		ci, isCell = m.g.index[e.Item]
	}
	switch e.Kind {
	case event.Queued:
		if isCell {
			m.setState(ci, event.StateQueued)
		}
	case event.Started:
		if e.Item == "" {
			return
		}
		m.items[e.Item] = &item{name: e.Item, phase: e.Phase, start: e.Time, last: e.Time}
		if isCell {
			m.setState(ci, event.StateRunning)
			delete(m.errs, e.Item)
			delete(m.driverLog, e.Item)
			m.logs[e.Item] = nil
		}
	case event.Progress:
		if e.Item == "" {
			if m.job != nil && e.Unit == "bytes" {
				m.job.done, m.job.total = e.Done, e.Total
			}
			return
		}
		it := m.items[e.Item]
		if it == nil {
			it = &item{name: e.Item, phase: e.Phase, start: e.Time}
			m.items[e.Item] = it
		}
		it.unit, it.done, it.total, it.last = e.Unit, e.Done, e.Total, e.Time
		if e.Line != "" {
			it.step = e.Line
		}
	case event.Log:
		l := append(m.logs[e.Item], e.Line)
		if len(l) > logKeep {
			l = append(l[:0:0], l[len(l)-logKeep:]...)
		}
		m.logs[e.Item] = l
	case event.Finished:
		delete(m.items, e.Item)
		st := e.State
		if st == "" && e.Err != "" {
			st = event.StateFailed
		}
		if isCell {
			if st == "" {
				st = event.StateBuilt
				if e.Phase == event.PhaseVerify {
					st = event.StateVerified
				}
			}
			m.setState(ci, st)
			m.session[e.Item] = st
			delete(m.details, e.Item)
			if e.Err != "" {
				m.errs[e.Item] = e.Err
			}
			if m.job != nil && m.job.set[e.Item] {
				m.job.finished++
				if st == event.StateFailed {
					m.job.failed++
				}
			}
		} else if e.Err != "" {
			m.setStatus(true, "%s %s failed: %s", e.Phase, e.Item, e.Err)
		}
	case event.Message:
		if e.Item != "" {
			m.setStatus(false, "%s: %s", e.Item, e.Line)
		} else {
			m.setStatus(false, "%s", e.Line)
		}
	}
}

func (m *model) jobDone(d jobDoneMsg) {
	j := m.job
	m.job = nil
	if j == nil {
		return
	}
	j.cancel()
	// Cells the Driver never finished get their old state back: queued or
	// building with nothing running is not true any more.
	for _, n := range j.cells {
		if i, ok := m.g.index[n]; ok && (m.state[i] == event.StateQueued || m.state[i] == event.StateRunning) {
			m.setState(i, j.prev[n])
		}
	}
	for n, it := range m.items {
		if j.set[n] {
			delete(m.items, it.name)
		}
	}
	took := event.FormatDuration(m.now().Sub(j.start))
	switch {
	case d.err != nil && (j.cancelled || errors.Is(d.err, context.Canceled)):
		m.setStatus(true, "%s cancelled after %s (%d/%d done)", j.kind, took, j.finished, len(j.cells))
	case d.err != nil:
		m.setStatus(true, "%s failed after %s: %v", j.kind, took, d.err)
	case j.failed > 0:
		m.setStatus(true, "%s finished in %s: %d/%d %s failed", j.kind, took, j.failed, len(j.cells), plural(len(j.cells), "cell"))
	case j.kind == "fetch":
		verb := "need"
		if len(j.cells) == 1 {
			verb = "needs"
		}
		m.setStatus(false, "fetched what %d %s %s in %s (%s)", len(j.cells), plural(len(j.cells), "cell"), verb, took, event.FormatBytes(j.total))
	default:
		m.setStatus(false, "%s finished in %s: %d %s ok", j.kind, took, len(j.cells), plural(len(j.cells), "cell"))
	}
}

// askDetail asks the Driver for the detail of the cell under the cursor
// when it is not known.
func (m *model) askDetail() tea.Cmd {
	name := m.curName()
	if name == "" || m.details[name] != nil || m.asked[name] || m.detailErr[name] != "" {
		return nil
	}
	m.asked[name] = true
	return m.call(func() tea.Msg {
		d, err := m.d.Detail(m.ctx, name)
		return detailMsg{cell: name, d: d, err: err}
	})
}

// readLog reads the cell's current log, or the past log at path.
func (m *model) readLog(name, path string) tea.Cmd {
	return m.call(func() tea.Msg {
		text, err := m.d.Log(name, path)
		return logMsg{cell: name, path: path, text: text, err: err}
	})
}

// pastLogs are the cell's build logs in the store, from its detail.
func (m *model) pastLogs(name string) []PastLog {
	if d := m.details[name]; d != nil {
		return d.Logs
	}
	return nil
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

// quit cancels running work and ends the program; Run waits for the Driver
// calls to return.
func (m *model) quit() tea.Cmd {
	m.quitting = true
	if m.job != nil {
		m.job.cancelled = true
		m.job.cancel()
	}
	return tea.Quit
}

func (m *model) key(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		m.interrupted = true
		return m.quit()
	}
	switch m.mode {
	case modeFilter:
		return m.filterKey(k)
	case modeLock:
		return m.lockKey(k)
	case modeHelp:
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit()
		case key.Matches(k, m.keys.Help, m.keys.Clear):
			m.mode = modeMatrix
		}
		return nil
	case modeDetail:
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit()
		case key.Matches(k, m.keys.Clear, m.keys.Detail):
			m.mode = modeMatrix
		case key.Matches(k, m.keys.Up):
			m.detScroll = max(0, m.detScroll-1)
		case key.Matches(k, m.keys.Down):
			m.detScroll++
		case key.Matches(k, m.keys.Log):
			if n := m.curName(); n != "" {
				m.mode, m.logScroll, m.logIdx = modeLog, 0, -1
				return m.readLog(n, "")
			}
		}
		return nil
	case modeLog:
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit()
		case key.Matches(k, m.keys.Clear, m.keys.Log):
			m.mode = modeMatrix
		case key.Matches(k, m.keys.Up):
			m.logScroll++
		case key.Matches(k, m.keys.Down):
			m.logScroll = max(0, m.logScroll-1)
		case key.Matches(k, m.keys.Older, m.keys.Newer):
			logs := m.pastLogs(m.curName())
			i := m.logIdx + 1
			if key.Matches(k, m.keys.Newer) {
				i = m.logIdx - 1
			}
			if i < -1 || i >= len(logs) {
				return nil
			}
			m.logIdx, m.logScroll = i, 0
			if i >= 0 {
				if _, ok := m.pastLog[logs[i].Path]; !ok {
					return m.readLog(m.curName(), logs[i].Path)
				}
			}
		}
		return nil
	}
	if m.fatal != nil {
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit()
		case key.Matches(k, m.keys.Reload):
			return m.loadCells()
		}
		return nil
	}

	km := m.keys
	page := max(1, m.layout().rows-1)
	switch {
	case key.Matches(k, km.Quit):
		return m.quit()
	case key.Matches(k, km.Up):
		m.move(-1, 0)
	case key.Matches(k, km.Down):
		m.move(1, 0)
	case key.Matches(k, km.Left):
		m.move(0, -1)
	case key.Matches(k, km.Right):
		m.move(0, 1)
	case key.Matches(k, km.PageUp):
		m.move(-page, 0)
	case key.Matches(k, km.PageDown):
		m.move(page, 0)
	case key.Matches(k, km.Top):
		m.move(-len(m.g.vis), 0)
	case key.Matches(k, km.Bottom):
		m.move(len(m.g.vis), 0)
	case key.Matches(k, km.Select):
		if i := m.curCell(); i >= 0 {
			m.toggle(i)
		}
	case key.Matches(k, km.SelectAll):
		for _, ri := range m.g.vis {
			for _, ci := range m.g.rows[ri].cells {
				if ci >= 0 && m.g.matches(int(ci)) && !m.selected[ci] {
					m.toggle(int(ci))
				}
			}
		}
	case key.Matches(k, km.Clear):
		if m.nsel > 0 {
			clear(m.selected)
			m.nsel = 0
		} else if m.filter != "" {
			m.setFilter("")
		}
	case key.Matches(k, km.Filter):
		m.mode, m.oldFilt = modeFilter, m.filter
	case key.Matches(k, km.Build):
		return m.startJob("build")
	case key.Matches(k, km.Verify):
		return m.startJob("verify")
	case key.Matches(k, km.Fetch):
		return m.startJob("fetch")
	case key.Matches(k, km.FetchAll):
		return m.startJobOn("fetch", m.shownCells())
	case key.Matches(k, km.Detail):
		if m.curName() != "" {
			m.mode, m.detScroll = modeDetail, 0
		}
	case key.Matches(k, km.Cancel):
		if m.job != nil {
			m.job.cancelled = true
			m.job.cancel()
			m.setStatus(false, "cancelling %s…", m.job.kind)
		}
	case key.Matches(k, km.Log):
		if n := m.curName(); n != "" {
			m.mode, m.logScroll, m.logIdx = modeLog, 0, -1
			return m.readLog(n, "")
		}
	case key.Matches(k, km.Lock):
		if m.lockBusy {
			return nil
		}
		m.lockBusy = true
		m.setStatus(false, "computing the lock diff…")
		update := m.opts.LockUpdate
		sink := chanSink{ch: m.events, done: m.done}
		return m.call(func() tea.Msg {
			d, err := m.d.LockDiff(m.ctx, update, sink)
			return lockDiffMsg{d, err}
		})
	case key.Matches(k, km.Reload):
		return m.loadCells()
	case key.Matches(k, km.Help):
		m.mode = modeHelp
	}
	return m.askDetail()
}

func (m *model) toggle(i int) {
	m.selected[i] = !m.selected[i]
	if m.selected[i] {
		m.nsel++
	} else {
		m.nsel--
	}
}

func (m *model) move(dr, dc int) {
	m.cur.row += dr
	m.cur.col += dc
	m.clampCursor()
}

func (m *model) setFilter(f string) {
	cur := m.curCell()
	m.filter = f
	m.g.setFilter(f)
	if cur >= 0 {
		m.moveTo(cur)
	}
	m.clampCursor()
	// Land on a matching cell when the filter hides the current one.
	if i := m.curCell(); i >= 0 && !m.g.matches(i) || i < 0 {
		for c := range m.g.cols {
			if j := m.g.at(m.cur.row, c); j >= 0 && m.g.matches(j) {
				m.cur.col = c
				break
			}
		}
	}
}

func (m *model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		m.mode = modeMatrix
	case "esc":
		m.setFilter(m.oldFilt)
		m.mode = modeMatrix
	case "backspace":
		if r := []rune(m.filter); len(r) > 0 {
			m.setFilter(string(r[:len(r)-1]))
		}
	case "ctrl+u":
		m.setFilter("")
	default:
		if k.Text != "" {
			m.setFilter(m.filter + k.Text)
		}
	}
	return nil
}

func (m *model) lockKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Accept):
		if m.lockBusy || m.lock == nil {
			return nil
		}
		if len(m.lock.Changes) == 0 {
			m.lock, m.mode = nil, modeMatrix
			m.setStatus(false, "the lock is up to date; nothing written")
			return nil
		}
		m.lockBusy = true
		d := *m.lock
		return m.call(func() tea.Msg {
			return lockAppliedMsg{d, m.d.ApplyLock(m.ctx, d)}
		})
	case key.Matches(k, m.keys.Reject):
		if m.lockBusy {
			return nil
		}
		m.lock, m.mode = nil, modeMatrix
		m.setStatus(false, "lock change rejected; nothing written")
	case key.Matches(k, m.keys.Up):
		m.lockScroll = max(0, m.lockScroll-1)
	case key.Matches(k, m.keys.Down):
		m.lockScroll++
	case key.Matches(k, m.keys.PageUp):
		m.lockScroll = max(0, m.lockScroll-(m.height-4))
	case key.Matches(k, m.keys.PageDown):
		m.lockScroll += m.height - 4
	case key.Matches(k, m.keys.Quit):
		return m.quit()
	}
	return nil
}

// shownCells are the cells the filter shows, in grid order.
func (m *model) shownCells() []string {
	var cells []string
	for _, ri := range m.g.vis {
		for _, ci := range m.g.rows[ri].cells {
			if ci >= 0 && m.g.matches(int(ci)) {
				cells = append(cells, m.g.cells[ci].Name)
			}
		}
	}
	return cells
}

// startJob runs Build, Verify or Fetch on the selected cells, or the
// current one.
func (m *model) startJob(kind string) tea.Cmd {
	var cells []string
	if m.nsel > 0 {
		for _, ri := range m.g.vis { // grid order
			for _, ci := range m.g.rows[ri].cells {
				if ci >= 0 && m.selected[ci] {
					cells = append(cells, m.g.cells[ci].Name)
				}
			}
		}
		// Selected cells the filter hides are still built.
		seen := map[string]bool{}
		for _, c := range cells {
			seen[c] = true
		}
		var hidden []string
		for i, s := range m.selected {
			if s && !seen[m.g.cells[i].Name] {
				hidden = append(hidden, m.g.cells[i].Name)
			}
		}
		sort.Strings(hidden)
		cells = append(cells, hidden...)
	} else if n := m.curName(); n != "" {
		cells = []string{n}
	}
	return m.startJobOn(kind, cells)
}

// startJobOn runs Build, Verify or Fetch on cells.
func (m *model) startJobOn(kind string, cells []string) tea.Cmd {
	if m.job != nil {
		m.setStatus(true, "a %s is running; x cancels it", m.job.kind)
		return nil
	}
	if len(cells) == 0 {
		m.setStatus(true, "no cell under the cursor")
		return nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	j := &job{kind: kind, cells: cells, set: map[string]bool{}, prev: map[string]event.State{}, cancel: cancel, start: m.now()}
	for _, c := range cells {
		i := m.g.index[c]
		j.set[c], j.prev[c] = true, m.state[i]
		if kind != "fetch" {
			m.setState(i, event.StateQueued)
		}
	}
	m.job = j
	m.setStatus(false, "%s of %d %s started", kind, len(cells), plural(len(cells), "cell"))
	sink := chanSink{ch: m.events, done: m.done}
	run := m.d.Build
	switch kind {
	case "verify":
		run = m.d.Verify
	case "fetch":
		run = m.d.Fetch
	}
	return tea.Batch(m.call(func() tea.Msg {
		err := run(ctx, cells, sink)
		sink.send(jobDoneMsg{kind: kind, err: err})
		return nil
	}), tick())
}
