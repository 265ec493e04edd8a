package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"

	"github.com/monogres/monogres/internal/event"
)

// cellWidth is the width of one matrix column: selection mark, cursor
// brackets around the glyph, padding. It also fits an arch name ("amd64 ").
const cellWidth = 6

// states lists the cell states in legend order.
var states = []event.State{
	event.StateLocked, event.StateFetched, event.StateQueued, event.StateRunning,
	event.StateBuilt, event.StateCached, event.StateVerified, event.StateFailed,
}

// glyphs carry the state without colour, so NO_COLOR loses nothing.
var glyphs = map[event.State]string{
	event.StateLocked:   "○",
	event.StateFetched:  "↓",
	event.StateQueued:   "◌",
	event.StateRunning:  "▶",
	event.StateBuilt:    "●",
	event.StateCached:   "◆",
	event.StateVerified: "✓",
	event.StateFailed:   "✗",
}

func glyph(s event.State) string {
	if g, ok := glyphs[s]; ok {
		return g
	}
	return "?"
}

// styles holds every style the views use, and the matrix cells pre-rendered
// for each state, selection and cursor, so drawing a frame is mostly string
// concatenation.
type styles struct {
	noColor bool

	title, dim, bold, err, ok, warn, key, sel, cursorRow lipgloss.Style
	state                                                map[event.State]lipgloss.Style

	// cell[state][sel<<1|cur] is a cellWidth-wide rendered cell.
	cell map[event.State]*[4]string
	// absent is a column with no cell, hidden a cell the filter hides.
	absent, hidden [4]string
	help           help.Model

	// fastDim and fastCursor wrap text in the escape sequences of dim and
	// cursorRow without going through lipgloss on every frame.
	fastDim, fastCursor wrapper

	footerW   int
	footerStr string
}

// wrapper is a style's opening and closing escape sequences.
type wrapper struct{ pre, post string }

func newWrapper(st lipgloss.Style) wrapper {
	r := st.Render("X")
	i := strings.Index(r, "X")
	return wrapper{r[:i], r[i+1:]}
}

func (w wrapper) wrap(s string) string { return w.pre + s + w.post }

// footer is the one-line key help, cached per width.
func (s *styles) footer(width int, k keyMap) string {
	if s.footerW != width || s.footerStr == "" {
		s.help.SetWidth(width)
		s.footerW, s.footerStr = width, s.help.ShortHelpView(k.ShortHelp())
	}
	return s.footerStr
}

func newStyles(noColor bool) *styles {
	s := &styles{noColor: noColor, state: map[event.State]lipgloss.Style{}}
	plain := lipgloss.NewStyle()
	fg := func(c string) lipgloss.Style {
		if noColor {
			return plain
		}
		return plain.Foreground(lipgloss.Color(c))
	}
	s.bold = plain.Bold(true)
	s.title = plain.Bold(true)
	s.dim = fg("245")
	s.err = fg("9").Bold(true)
	s.ok = fg("10")
	s.warn = fg("11")
	s.key = fg("12").Bold(true)
	s.sel = fg("13").Bold(true)
	s.cursorRow = plain.Bold(true)
	if !noColor {
		s.title = s.title.Foreground(lipgloss.Color("14"))
	}
	colors := map[event.State]string{
		event.StateLocked: "245", event.StateFetched: "12", event.StateQueued: "11",
		event.StateRunning: "11", event.StateBuilt: "10", event.StateCached: "14",
		event.StateVerified: "10", event.StateFailed: "9",
	}
	for st, c := range colors {
		s.state[st] = fg(c)
	}
	s.state[event.StateRunning] = s.state[event.StateRunning].Bold(true)
	s.state[event.StateVerified] = s.state[event.StateVerified].Bold(true)
	s.state[event.StateFailed] = s.state[event.StateFailed].Bold(true)

	s.cell = map[event.State]*[4]string{}
	for _, st := range append(states, "") {
		var v [4]string
		for i := range 4 {
			v[i] = s.renderCell(s.stateStyle(st).Render(glyph(st)), i&2 != 0, i&1 != 0)
		}
		s.cell[st] = &v
	}
	for i := range 4 {
		s.absent[i] = s.renderCell(s.dim.Render("·"), false, i&1 != 0)
		s.hidden[i] = s.renderCell(" ", false, i&1 != 0)
	}

	s.fastDim, s.fastCursor = newWrapper(s.dim), newWrapper(s.cursorRow)
	s.help = help.New()
	s.help.Styles = help.Styles{
		Ellipsis: s.dim, ShortKey: s.key, ShortDesc: s.dim, ShortSeparator: s.dim,
		FullKey: s.key, FullDesc: plain, FullSeparator: s.dim,
	}
	return s
}

func (s *styles) stateStyle(st event.State) lipgloss.Style {
	if x, ok := s.state[st]; ok {
		return x
	}
	return s.warn
}

// renderCell lays out " [g]  " with a selection mark and cursor brackets.
func (s *styles) renderCell(g string, selected, cursor bool) string {
	mark := " "
	if selected {
		mark = s.sel.Render("*")
	}
	l, r := " ", " "
	if cursor {
		l, r = "[", "]"
		if !s.noColor {
			l, r = s.cursorRow.Render("["), s.cursorRow.Render("]")
		}
	}
	return mark + l + g + r + "  "
}

// cellString returns the rendered cell for state st.
func (s *styles) cellString(st event.State, selected, cursor bool) string {
	v, ok := s.cell[st]
	if !ok {
		v = s.cell[""]
	}
	i := 0
	if selected {
		i |= 2
	}
	if cursor {
		i |= 1
	}
	return v[i]
}
