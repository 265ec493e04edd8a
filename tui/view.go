package tui

import (
	"fmt"
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
	rows     int // matrix rows shown
	progress int // lines of the progress pane (0 when idle)
	logLines int // log lines under the log pane's title
	labelW   int // width of row labels
	ncols    int // matrix columns shown
}

func (m *model) layout() layout {
	var l layout
	maxItems, logLines := 3, 3
	if m.height >= 36 {
		maxItems, logLines = 6, 8
	}
	if m.job != nil || len(m.items) > 0 {
		l.progress = 1 + maxItems
	}
	l.logLines = logLines
	// title, 2 header lines, status, legend, help
	l.rows = m.height - 6 - l.progress - (1 + l.logLines)
	if l.rows < 3 {
		l.logLines = max(0, l.logLines-(3-l.rows))
		l.rows = m.height - 6 - l.progress - (1 + l.logLines)
	}
	l.rows = max(1, l.rows)
	// A short matrix gives its spare lines to the log.
	if spare := l.rows - max(1, len(m.g.vis)); spare > 0 && m.loaded {
		l.rows -= spare
		l.logLines += spare
	}
	l.labelW = min(max(12, m.g.maxLabel), 30, m.width/3)
	l.ncols = max(1, (m.width-l.labelW-2)/cellWidth)
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
	m.renderMatrix(s, l)
	s.fill(1 + 2 + l.rows)
	if l.progress > 0 {
		m.renderProgress(s, l.progress)
	}
	m.renderLogPane(s, l.logLines)
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

func (m *model) legend() string {
	var b strings.Builder
	for i, st := range states {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(m.st.stateStyle(st).Render(glyph(st)) + " " + string(st))
	}
	return b.String()
}

func (m *model) renderMatrix(s *screen, l layout) {
	g := m.g
	c0, c1 := m.left, min(len(g.cols), m.left+l.ncols)
	pad := func(str string, w int) string {
		if len(str) > w {
			str = ansi.Truncate(str, w, "")
		}
		return str + strings.Repeat(" ", max(0, w-ansi.StringWidth(str)))
	}
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
		h1.WriteString(m.st.bold.Render(pad(g.cols[c].opt, (e-c)*cellWidth-1)) + " ")
		c = e
	}
	for c := c0; c < c1; c++ {
		h2.WriteString(m.st.dim.Render(pad(g.cols[c].arch, cellWidth-1)) + " ")
	}
	if c1 < len(g.cols) {
		h2.WriteString("›")
	}
	s.line(h1.String())
	s.line(h2.String())

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
				b.WriteString(m.st.absent[ic])
			case !g.matches(int(ci)):
				b.WriteString(m.st.hidden[ic])
			default:
				b.WriteString(m.st.cellString(m.state[ci], m.selected[ci], cur))
			}
		}
		s.lineFit(b.String())
	}
	if len(g.vis) == 0 && m.loaded {
		if m.filter != "" {
			s.line(m.st.dim.Render(fmt.Sprintf("no cell matches %q (esc clears the filter)", m.filter)))
		} else {
			s.line(m.st.dim.Render("the matrix is empty: monogres.toml declares no cells"))
		}
	}
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
		frac := float64(j.finished)
		for _, it := range its {
			if j.set[it.name] && it.total > 0 {
				frac += float64(it.done) / float64(it.total)
			}
		}
		frac /= float64(len(j.cells))
		el := now.Sub(j.start)
		head := fmt.Sprintf("%s %d/%d", j.kind, j.finished, len(j.cells))
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
		if it.total > 0 {
			frac := float64(it.done) / float64(it.total)
			line += fmt.Sprintf(" %15s ", amount(it.unit, it.done, it.total)) + m.bar(frac, barW) + fmt.Sprintf(" %3.0f%%", frac*100)
			if el := it.last.Sub(it.start); it.done > 0 && el > 0 && it.done < it.total {
				eta := time.Duration(float64(el) * float64(it.total-it.done) / float64(it.done))
				line += " ETA " + event.FormatDuration(eta)
			}
		} else {
			line += fmt.Sprintf(" %15s", event.FormatDuration(now.Sub(it.start)))
		}
		s.line(line)
	}
	s.fill(s.lines + max(0, lines-1-len(its)))
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
	return nil
}

func (m *model) renderLogPane(s *screen, n int) {
	name := m.curName()
	head := "── log"
	if name != "" {
		head += " " + name
		head += " (" + string(m.state[m.curCell()]) + ")"
	}
	head += " "
	s.line(m.st.dim.Render(head + strings.Repeat("─", max(0, m.width-ansi.StringWidth(head)))))
	if n == 0 {
		return
	}
	start := s.lines
	lines := m.cellLog(name)
	if e := m.errs[name]; e != "" {
		s.line(m.st.err.Render("error: " + firstLine(e)))
		n--
	}
	if len(lines) == 0 && name != "" && m.errs[name] == "" {
		s.line(m.st.dim.Render("(no log yet; enter opens the full log)"))
	}
	for _, l := range lines[max(0, len(lines)-n):] {
		s.line("  " + sanitize(l))
	}
	s.fill(start + n + boolInt(m.errs[name] != ""))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (m *model) renderLogView(s *screen) {
	name := m.curName()
	s.line(m.st.title.Render("log ") + m.st.bold.Render(name) + m.st.dim.Render("   esc back · ↑↓ scroll"))
	if e := m.errs[name]; e != "" {
		for _, l := range wrap(e, m.width-7) {
			s.line(m.st.err.Render("error: " + l))
		}
	}
	lines := m.cellLog(name)
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
