package tui

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/monogres/monogres/internal/event"
)

// Minimum usable terminal size.
const minWidth, minHeight = 40, 12

// layout is how the screen is divided at the current size.
type layout struct {
	stale    int // lines of the stale-lock banner
	upper    int // lines of the matrix area: 2 header lines and the rows (and the side pane)
	rows     int // matrix rows shown
	progress int // lines of the progress pane (0 when idle)
	logLines int // lines under the cell pane's title
	labelW   int // width of row labels
	cw       int // width of one matrix column (6, or 5 abbreviated)
	ncols    int // matrix columns shown
	side     int // width of the detail pane right of the matrix (0: none)
}

// fit chooses the label and column widths: every column at full width,
// then with shorter labels, then abbreviated (5-wide columns, short arch
// names); only a matrix that still does not fit scrolls sideways.
func (m *model) fit(l *layout) {
	n := max(1, len(m.g.cols))
	full := min(max(12, m.g.maxLabel), 30)
	for _, cw := range []int{6, 5} {
		if lw := min(full, m.width-1-n*cw); lw >= min(full, 14) {
			l.labelW, l.cw, l.ncols = lw, cw, n
			return
		}
	}
	l.labelW, l.cw = min(full, m.width/3), 6
	l.ncols = max(1, (m.width-l.labelW-2)/l.cw)
}

func (m *model) layout() layout {
	var l layout
	m.fit(&l)
	maxItems, logLines := 3, 3
	if m.height >= 36 {
		maxItems, logLines = 6, 8
	}
	if len(m.stale) > 0 {
		l.stale = 1
	}
	if m.job != nil || len(m.items) > 0 {
		l.progress = 1 + maxItems
	}
	if mw := l.labelW + 1 + l.ncols*l.cw + 1; m.width-mw-2 >= 44 && m.height >= 30 {
		l.side = m.width - mw - 2
	}
	// title, stale banner, pane title, status, legend, help
	avail := m.height - 5 - l.stale - l.progress
	l.logLines = logLines
	l.rows = avail - 2 - l.logLines
	if l.rows < 3 {
		l.logLines = max(0, l.logLines-(3-l.rows))
		l.rows = avail - 2 - l.logLines
	}
	l.rows = max(1, l.rows)
	l.upper = 2 + l.rows
	// A short matrix gives its spare lines to the log, keeping what the
	// side pane needs.
	if m.loaded {
		need := 2 + max(1, len(m.g.vis))
		if l.side > 0 {
			need = max(need, min(l.upper, len(m.detailLines(m.curName(), l.side, false))))
		}
		if spare := l.upper - need; spare > 0 {
			l.upper -= spare
			l.rows = min(l.rows, l.upper-2)
			l.logLines += spare
		}
	}
	return l
}

// scrollIntoView keeps the cursor inside the visible window.
func (m *model) scrollIntoView() {
	l := m.layout()
	if m.cur.row < m.top {
		m.top = m.cur.row
	}
	if m.cur.row >= m.top+l.rows {
		m.top = m.cur.row - l.rows + 1
	}
	m.top = clamp(m.top, 0, max(0, len(m.g.vis)-l.rows))
	if m.cur.col < m.left {
		m.left = m.cur.col
	}
	if m.cur.col >= m.left+l.ncols {
		m.left = m.cur.col - l.ncols + 1
	}
	m.left = clamp(m.left, 0, max(0, len(m.g.cols)-l.ncols))
	if m.mode == modeLock && m.lock != nil {
		m.lockScroll = clamp(m.lockScroll, 0, max(0, len(m.lockLines())-(m.height-4)))
	}
}

// View draws the screen in the alternate screen buffer.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "monogres"
	return v
}

// screen collects lines, cutting each to the terminal width.
type screen struct {
	b     strings.Builder
	w, h  int
	lines int
}

func (s *screen) line(l string) {
	if s.lines >= s.h {
		return
	}
	if s.lines > 0 {
		s.b.WriteByte('\n')
	}
	if ansi.StringWidth(l) > s.w {
		l = ansi.Truncate(l, s.w, "…")
	}
	s.b.WriteString(l)
	s.lines++
}

// lineFit adds a line the caller built to fit the width.
func (s *screen) lineFit(l string) {
	if s.lines >= s.h {
		return
	}
	if s.lines > 0 {
		s.b.WriteByte('\n')
	}
	s.b.WriteString(l)
	s.lines++
}

// fill pads with empty lines up to line n (exclusive).
func (s *screen) fill(n int) {
	for s.lines < n && s.lines < s.h {
		s.line("")
	}
}

func (m *model) render() string {
	s := &screen{w: m.width, h: m.height}
	s.b.Grow(m.width * m.height * 2)
	switch {
	case m.width < minWidth || m.height < minHeight:
		s.line(fmt.Sprintf("terminal too small (%d×%d); monogres needs %d×%d", m.width, m.height, minWidth, minHeight))
		s.line("q quits")
	case m.fatal != nil:
		m.renderFatal(s)
	case m.mode == modeHelp:
		m.renderHelp(s)
	case m.mode == modeLock && m.lock != nil:
		m.renderLock(s)
	case m.mode == modeLog:
		m.renderLogView(s)
	case m.mode == modeDetail:
		m.renderDetailView(s)
	default:
		m.renderMain(s)
	}
	return s.b.String()
}

func (m *model) renderFatal(s *screen) {
	s.line(m.st.title.Render("monogres"))
	s.line("")
	s.line(m.st.err.Render("cannot load the build matrix:"))
	for _, l := range wrap(m.fatal.Error(), m.width-2) {
		s.line("  " + l)
	}
	s.line("")
	s.line(m.st.dim.Render("r retry · q quit"))
}

func (m *model) renderMain(s *screen) {
	l := m.layout()
	// Title.
	var t strings.Builder
	t.WriteString(m.st.title.Render("monogres"))
	if !m.loaded {
		t.WriteString("  loading the matrix…")
	} else {
		fmt.Fprintf(&t, "  %d cells", len(m.g.cells))
		c := m.count
		for _, st := range states {
			if c[st] > 0 {
				t.WriteString("  " + m.st.stateStyle(st).Render(glyph(st)) + fmt.Sprintf(" %d", c[st]))
			}
		}
		if m.nsel > 0 {
			t.WriteString("  " + m.st.sel.Render(fmt.Sprintf("* %d selected", m.nsel)))
		}
		if m.filter != "" {
			t.WriteString(fmt.Sprintf("  filter %q", m.filter))
		}
	}
	s.line(t.String())
	if l.stale > 0 {
		more := ""
		if len(m.stale) > 1 {
			more = fmt.Sprintf(" (+%d more)", len(m.stale)-1)
		}
		s.line(m.st.warn.Render("⚠ "+m.lockName()+" is stale: ") + m.stale[0] + more + m.st.dim.Render(" · L shows the diff"))
	}
	left := m.renderMatrix(l)
	var right []string
	if l.side > 0 {
		right = m.detailLines(m.curName(), l.side, false)
	}
	mw := l.labelW + 1 + l.ncols*l.cw + 1
	for i := range l.upper {
		var ln string
		if i < len(left) {
			ln = left[i]
		}
		if l.side == 0 {
			s.lineFit(ln)
			continue
		}
		ln += strings.Repeat(" ", max(0, mw-ansi.StringWidth(ln))) + m.st.dim.Render("│") + " "
		if i < len(right) {
			r := right[i]
			if ansi.StringWidth(r) > l.side {
				r = ansi.Truncate(r, l.side, "…")
			}
			ln += r
		}
		s.lineFit(ln)
	}
	if l.progress > 0 {
		m.renderProgress(s, l.progress)
	}
	m.renderCellPane(s, l)
	// Status line.
	switch {
	case m.mode == modeFilter:
		s.line(m.st.key.Render("/") + m.filter + "█" + m.st.dim.Render("   enter keep · esc cancel · substring or glob (* ? [..])"))
	case m.status != "" && m.statusErr:
		s.line(m.st.err.Render(m.status))
	case m.status != "":
		s.line(m.status)
	case m.filter != "":
		s.line(m.st.dim.Render(fmt.Sprintf("filter %q: %d of %d rows (esc clears)", m.filter, len(m.g.vis), len(m.g.rows))))
	default:
		s.line("")
	}
	s.line(m.legend())
	s.line(m.st.footer(m.width, m.keys))
}

func (m *model) lockName() string {
	if m.lockFile == "" {
		return "the lock"
	}
	return filepath.Base(m.lockFile)
}

func (m *model) legend() string {
	var b strings.Builder
	for i, st := range states {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(m.st.stateStyle(st).Render(glyph(st)) + " " + string(st))
	}
	if m.count[""] > 0 { // cells the lock does not pin (no lock yet, or a stale one)
		b.WriteString(" " + m.st.stateStyle("").Render(glyph("")) + " unlocked")
	}
	return b.String()
}

// short names of the arches in abbreviated columns.
var shortArch = map[string]string{"amd64": "amd", "arm64": "arm"}

// renderMatrix returns the two header lines and the visible rows, each at
// most labelW+1+ncols*cw+1 wide.
func (m *model) renderMatrix(l layout) []string {
	g := m.g
	c0, c1 := m.left, min(len(g.cols), m.left+l.ncols)
	pad := func(str string, w int) string {
		if len(str) > w {
			str = ansi.Truncate(str, w, "…")
		}
		return str + strings.Repeat(" ", max(0, w-ansi.StringWidth(str)))
	}
	out := make([]string, 0, 2+l.rows)
	// Header: option sets spanning their arches, then arches.
	var h1, h2 strings.Builder
	pos := ""
	if len(g.vis) > 0 {
		pos = fmt.Sprintf("%d/%d", m.cur.row+1, len(g.vis))
	}
	h1.WriteString(m.st.dim.Render(pad(pos, l.labelW)) + " ")
	h2.WriteString(strings.Repeat(" ", l.labelW+1))
	if c0 > 0 {
		h2.WriteString("‹")
	} else {
		h2.WriteString(" ")
	}
	h1.WriteString(" ")
	for c := c0; c < c1; {
		e := c
		for e < c1 && g.cols[e].opt == g.cols[c].opt {
			e++
		}
		h1.WriteString(m.st.bold.Render(pad(g.cols[c].opt, (e-c)*l.cw-1)) + " ")
		c = e
	}
	for c := c0; c < c1; c++ {
		a := g.cols[c].arch
		if s, ok := shortArch[a]; ok && len(a) > l.cw-1 {
			a = s
		}
		h2.WriteString(m.st.dim.Render(pad(a, l.cw-1)) + " ")
	}
	if c1 < len(g.cols) {
		h2.WriteString("›")
	}
	// The header's last column needs no separating space.
	out = append(out, strings.TrimSuffix(h1.String(), " "), strings.TrimSuffix(h2.String(), " "))

	cell := func(v string) string {
		if l.cw < cellWidth {
			return v[:len(v)-(cellWidth-l.cw)] // the cells end in plain spaces
		}
		return v
	}
	var b strings.Builder
	for vr := m.top; vr < min(len(g.vis), m.top+l.rows); vr++ {
		b.Reset()
		r := &g.rows[g.vis[vr]]
		label := pad(r.label, l.labelW)
		switch {
		case vr == m.cur.row:
			b.WriteString(m.st.fastCursor.wrap(label))
		case r.ext:
			b.WriteString(m.st.fastDim.wrap(label))
		default:
			b.WriteString(label)
		}
		b.WriteString(" ")
		for c := c0; c < c1; c++ {
			cur := vr == m.cur.row && c == m.cur.col
			ci := r.cells[c]
			ic := 0
			if cur {
				ic = 1
			}
			switch {
			case ci < 0:
				b.WriteString(cell(m.st.absent[ic]))
			case !g.matches(int(ci)):
				b.WriteString(cell(m.st.hidden[ic]))
			default:
				b.WriteString(cell(m.st.cellString(m.state[ci], m.selected[ci], cur)))
			}
		}
		out = append(out, b.String())
	}
	if len(g.vis) == 0 && m.loaded {
		if m.filter != "" {
			out = append(out, m.st.dim.Render(ansi.Truncate(fmt.Sprintf("no cell matches %q (esc clears the filter)", m.filter), m.width, "…")))
		} else {
			out = append(out, m.st.dim.Render(ansi.Truncate("the matrix is empty: monogres.toml declares no cells", m.width, "…")))
		}
	}
	return out
}

// took is how long cell's last build took, from the matrix (0: unknown).
func (m *model) took(cell string) time.Duration {
	if i, ok := m.g.index[cell]; ok {
		return m.g.cells[i].Took
	}
	return 0
}

// buildFrac estimates how far a running build is from its previous
// duration (ok false: no previous build known).
func (m *model) buildFrac(it *item, now time.Time) (float64, bool) {
	took := m.took(it.name)
	if took <= 0 {
		return 0, false
	}
	return min(0.99, float64(now.Sub(it.start))/float64(took)), true
}

func (m *model) renderProgress(s *screen, lines int) {
	now := m.now()
	var its []*item
	for _, it := range m.items {
		its = append(its, it)
	}
	sort.Slice(its, func(i, j int) bool {
		if !its[i].start.Equal(its[j].start) {
			return its[i].start.Before(its[j].start)
		}
		return its[i].name < its[j].name
	})
	barW := 20
	if m.width < 100 {
		barW = 12
	}
	if j := m.job; j != nil {
		var frac float64
		if j.kind == "fetch" {
			if j.total > 0 {
				frac = float64(j.done) / float64(j.total)
			}
		} else {
			frac = float64(j.finished)
			for _, it := range its {
				if !j.set[it.name] {
					continue
				}
				if f, ok := m.buildFrac(it, now); ok {
					frac += f
				} else if it.total > 0 && it.unit == "bytes" {
					frac += float64(it.done) / float64(it.total)
				}
			}
			frac /= float64(len(j.cells))
		}
		el := now.Sub(j.start)
		head := fmt.Sprintf("%s %d/%d", j.kind, j.finished, len(j.cells))
		if j.kind == "fetch" {
			head = fmt.Sprintf("fetch for %d %s", len(j.cells), plural(len(j.cells), "cell"))
			if j.total > 0 {
				head += " · " + event.FormatBytes(j.done) + "/" + event.FormatBytes(j.total)
			}
		}
		if j.failed > 0 {
			head += m.st.err.Render(fmt.Sprintf(" · %d failed", j.failed))
		}
		head += " · " + event.FormatDuration(el)
		if frac > 0 && frac < 1 {
			head += " · ETA " + event.FormatDuration(time.Duration(float64(el)*(1-frac)/frac))
		}
		s.line(m.st.bold.Render(head) + "  " + m.bar(frac, barW) + fmt.Sprintf(" %3.0f%%", frac*100))
	} else {
		s.line(m.st.bold.Render(fmt.Sprintf("running %d", len(its))))
	}
	shown := lines - 1
	if len(its) > shown {
		shown--
	}
	nameW := min(50, max(10, m.width-(3+1+15+2+barW+5+10)))
	for i, it := range its {
		if i == shown {
			s.line(m.st.dim.Render(fmt.Sprintf("   … and %d more", len(its)-shown)))
			break
		}
		g := "▶"
		if it.phase == event.PhaseFetch {
			g = "↓"
		}
		name := it.name
		if ansi.StringWidth(name) > nameW {
			name = ansi.Truncate(name, nameW, "…")
		}
		line := fmt.Sprintf(" %s %-*s", m.st.stateStyle(event.StateRunning).Render(g), nameW, name)
		el := now.Sub(it.start)
		step := m.step(it.name)
		if it.step != "" {
			step = it.step + ": " + step
		}
		switch f, ok := m.buildFrac(it, now); {
		case ok: // a build: elapsed against its previous duration
			took := m.took(it.name)
			line += fmt.Sprintf(" %15s ", event.FormatDuration(el)+" of ~"+event.FormatDuration(took))
			if m.width >= 100 { // a narrow screen keeps the room for the step
				line += m.bar(f, barW)
			}
			line += fmt.Sprintf(" %3.0f%%", f*100) + " ETA " + event.FormatDuration(max(0, took-el))
			if it.total > 0 {
				step = fmt.Sprintf("%d/%d %s", it.done, it.total, step)
			}
		case it.unit == "steps": // a build's phases take very different times: no bar, no ETA
			line += fmt.Sprintf(" %15s", event.FormatDuration(el))
			step = fmt.Sprintf("%d/%d %s", it.done, it.total, step)
		case it.total > 0:
			frac := float64(it.done) / float64(it.total)
			line += fmt.Sprintf(" %15s ", amount(it.unit, it.done, it.total)) + m.bar(frac, barW) + fmt.Sprintf(" %3.0f%%", frac*100)
			if el := it.last.Sub(it.start); it.done > 0 && el > 0 && it.done < it.total {
				eta := time.Duration(float64(el) * float64(it.total-it.done) / float64(it.done))
				line += " ETA " + event.FormatDuration(eta)
			}
		default:
			line += fmt.Sprintf(" %15s", event.FormatDuration(el))
		}
		if step != "" {
			line += "  " + m.st.dim.Render(step)
		}
		s.line(line)
	}
	s.fill(s.lines + max(0, lines-1-len(its)))
}

// step is what a running cell is doing: its last log line.
func (m *model) step(cell string) string {
	l := m.logs[cell]
	if len(l) == 0 {
		return ""
	}
	return sanitize(strings.TrimPrefix(l[len(l)-1], "monogres: "))
}

func (m *model) bar(frac float64, w int) string {
	frac = max(0, min(1, frac))
	n := int(frac*float64(w) + 0.5)
	return m.st.ok.Render(strings.Repeat("█", n)) + m.st.dim.Render(strings.Repeat("░", w-n))
}

// cellLog returns the known log lines of a cell: from events, else from the
// Driver.
func (m *model) cellLog(name string) []string {
	if l := m.logs[name]; len(l) > 0 {
		return l
	}
	if t := strings.TrimRight(m.driverLog[name], "\n"); t != "" {
		return strings.Split(t, "\n")
	}
	if d := m.details[name]; d != nil {
		if t := strings.TrimRight(d.LogTail, "\n"); t != "" {
			return strings.Split(t, "\n")
		}
	}
	return nil
}

// renderCellPane draws the pane under the matrix: the cursor cell's log,
// led by a summary of its detail, or its detail when it has no log (the
// detail is beside the matrix when there is room).
func (m *model) renderCellPane(s *screen, l layout) {
	n := l.logLines
	name := m.curName()
	head := "── "
	if name != "" {
		head += name + " (" + string(m.state[m.curCell()]) + ")"
	}
	head += " "
	s.line(m.st.dim.Render(head + strings.Repeat("─", max(0, m.width-ansi.StringWidth(head)))))
	if n == 0 {
		return
	}
	start := s.lines
	end := start + n
	lines := m.cellLog(name)
	if e := m.errs[name]; e != "" {
		s.line(m.st.err.Render("error: " + firstLine(e)))
	}
	switch {
	case name == "":
	case len(lines) == 0 && l.side == 0:
		for _, d := range m.detailLines(name, m.width, false)[1:] { // the title has the name
			if s.lines >= end {
				break
			}
			s.line(d)
		}
	case len(lines) == 0:
		s.line(m.st.dim.Render("(no build log for this cell; enter opens the full log)"))
	default:
		if l.side == 0 {
			s.line(m.summary(name))
		}
		for _, ln := range lines[max(0, len(lines)-(end-s.lines)):] {
			s.line("  " + sanitize(ln))
		}
		// A short log leaves room for the detail: the compact one, or
		// beside a side pane that has it, every input with its sha256.
		more := m.detailLines(name, m.width, l.side > 0)[1:]
		if l.side > 0 {
			more = m.inputLines(name, m.width)
		}
		if s.lines+1 < end && len(more) > 0 {
			s.line("")
			for _, d := range more {
				if s.lines >= end {
					break
				}
				s.line(d)
			}
		}
	}
	s.fill(end)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (m *model) renderLogView(s *screen) {
	name := m.curName()
	logs := m.pastLogs(name)
	help := "   esc back · ↑↓ scroll"
	if len(logs) > 0 {
		help += " · [ ] older/newer log"
	}
	s.line(m.st.title.Render("log ") + m.st.bold.Render(name) + m.st.dim.Render(help))
	var lines []string
	if m.logIdx >= 0 && m.logIdx < len(logs) {
		p := logs[m.logIdx]
		what := "build"
		if p.Verify {
			what = "verify rebuild"
		}
		s.line(m.st.dim.Render(fmt.Sprintf("past log %d of %d: %s of action %s, %s · %s", m.logIdx+1, len(logs), what, short(p.Key), p.Time.UTC().Format("2006-01-02 15:04"), p.Path)))
		if t := strings.TrimRight(m.pastLog[p.Path], "\n"); t != "" {
			lines = strings.Split(t, "\n")
		}
	} else {
		if len(logs) > 0 {
			s.line(m.st.dim.Render(fmt.Sprintf("the cell's current log; %d in the store ([ shows them)", len(logs))))
		}
		if e := m.errs[name]; e != "" {
			for _, l := range wrap(e, m.width-7) {
				s.line(m.st.err.Render("error: " + l))
			}
		}
		lines = m.cellLog(name)
	}
	body := m.height - s.lines
	end := max(0, len(lines)-m.logScroll)
	for _, l := range lines[max(0, end-body):end] {
		s.line(sanitize(l))
	}
	if len(lines) == 0 {
		s.line(m.st.dim.Render("(no log for this cell)"))
	}
}

func (m *model) renderHelp(s *screen) {
	s.line(m.st.title.Render("monogres") + " help" + m.st.dim.Render("   ? or esc to go back"))
	s.line("")
	m.st.help.SetWidth(m.width)
	for _, l := range strings.Split(m.st.help.FullHelpView(m.keys.FullHelp()), "\n") {
		s.line(l)
	}
	s.line("")
	s.line(m.st.bold.Render("Cell states"))
	s.line(m.legend())
	s.line(m.st.dim.Render("·") + " no such cell   " + m.st.sel.Render("*") + " selected   [ ] cursor")
	s.line("")
	for _, l := range []string{
		"b and v act on the selected cells, or on the cell under the cursor.",
		"The filter matches cell names: a substring, or a glob with * ? [..].",
		"L shows what `monogres lock` would change; nothing is written until y.",
		"f fetches what the selected cells need, F what every shown cell needs.",
		"i shows a cell's detail; in the log view [ and ] page through its older logs.",
		"q and ctrl+c cancel running work before leaving.",
	} {
		s.line(l)
	}
}

// lockLines renders the pending diff, one entry per input.
func (m *model) lockLines() []string {
	var out []string
	for _, c := range m.lock.Changes {
		var mark, ver string
		switch c.Kind {
		case Added:
			mark, ver = m.st.ok.Render("+"), c.New.Version
		case Removed:
			mark, ver = m.st.err.Render("-"), c.Old.Version
		default:
			mark = m.st.warn.Render("~")
			ver = c.Old.Version + " → " + c.New.Version
			if c.Old.Version == c.New.Version {
				ver = c.New.Version
			}
		}
		out = append(out, fmt.Sprintf("%s %-36s %s  %s", mark, c.Name, ver, m.st.dim.Render(string(c.Kind))))
		switch c.Kind {
		case Added:
			out = append(out, "    sha256  "+short(c.New.SHA256))
			for _, u := range c.New.URLs {
				out = append(out, "    url     "+u)
			}
		case Removed:
			out = append(out, "    sha256  "+short(c.Old.SHA256))
		default:
			if c.Old.SHA256 != c.New.SHA256 {
				out = append(out, "    sha256  "+short(c.Old.SHA256)+" → "+short(c.New.SHA256))
			} else {
				out = append(out, "    sha256  "+short(c.New.SHA256)+m.st.dim.Render(" (unchanged)"))
			}
			if !slicesEqual(c.Old.URLs, c.New.URLs) {
				for _, u := range c.Old.URLs {
					out = append(out, "    url   "+m.st.err.Render("- ")+u)
				}
				for _, u := range c.New.URLs {
					out = append(out, "    url   "+m.st.ok.Render("+ ")+u)
				}
			}
		}
	}
	return out
}

func (m *model) renderLock(s *screen) {
	d := m.lock
	n := map[ChangeKind]int{}
	for _, c := range d.Changes {
		n[c.Kind]++
	}
	s.line(m.st.title.Render("lock diff") + "  " + lockPath(*d) + fmt.Sprintf("  %d %s: %d added, %d updated, %d removed",
		len(d.Changes), plural(len(d.Changes), "change"), n[Added], n[Updated], n[Removed]))
	s.line("")
	lines := m.lockLines()
	if len(lines) == 0 {
		s.line("The lock is up to date: nothing to write.")
	}
	body := m.height - 4
	sc := clamp(m.lockScroll, 0, max(0, len(lines)-body))
	for _, l := range lines[sc:min(len(lines), sc+body)] {
		s.line(l)
	}
	s.fill(m.height - 2)
	switch {
	case m.lockBusy:
		s.line("writing " + lockPath(*d) + "…")
	case m.lockErr != "":
		s.line(m.st.err.Render(m.lockErr))
	case len(lines) > body:
		s.line(m.st.dim.Render(fmt.Sprintf("lines %d-%d of %d (↑↓ scroll)", sc+1, min(len(lines), sc+body), len(lines))))
	default:
		s.line("")
	}
	s.line(m.st.key.Render("y/enter") + " write " + lockPath(*d) + "   " + m.st.key.Render("n/esc") + " reject (nothing is written)")
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// short cuts a sha256 to 12 hex digits for display.
func short(h string) string {
	if h == "" {
		return "(none)"
	}
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// sanitize drops control sequences from log lines so a build cannot paint
// over the UI.
func sanitize(l string) string {
	l = ansi.Strip(l)
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, l)
}

func wrap(s string, w int) []string {
	w = max(w, 10)
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, strings.Split(lipgloss.Wrap(para, w, " "), "\n")...)
	}
	return out
}

// amount formats done/total in unit.
func amount(unit string, done, total int64) string {
	if unit == "bytes" {
		return event.FormatBytes(done) + "/" + event.FormatBytes(total)
	}
	return fmt.Sprintf("step %d/%d", done, total)
}
