package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/monogres/monogres/internal/event"
)

// detailLines renders what is known of a cell in width columns: the facts
// of `monogres info` (compact: Debian packages counted, not listed; full:
// every input with its whole sha256).
func (m *model) detailLines(name string, width int, full bool) []string {
	if name == "" {
		return nil
	}
	out := []string{m.st.bold.Render(name)}
	d := m.details[name]
	if d == nil {
		if e := m.detailErr[name]; e != "" {
			return append(out, m.st.err.Render("detail: "+e))
		}
		return append(out, m.st.dim.Render("reading the cell's detail…"))
	}
	kv := func(k, v string) { out = append(out, m.st.dim.Render(fmt.Sprintf("%-8s ", k))+v) }
	i := m.g.index[name]
	st := m.state[i]
	kv("state", m.st.stateStyle(st).Render(glyph(st)+" "+string(st)))
	options := func() {
		if len(d.Options) == 0 {
			kv("options", "(none)")
		} else {
			kv("options", strings.Join(d.Options, " "))
		}
		for _, x := range d.Dropped {
			kv("dropped", x.Option+": "+x.Reason)
		}
	}
	if d.LockErr != "" {
		kv("lock", m.st.err.Render(d.LockErr))
		options()
		return out
	}
	if d.ActionKey == "" {
		kv("action", m.st.dim.Render("unknown: "+d.KeyReason))
	} else {
		key := short(d.ActionKey)
		if full {
			key = d.ActionKey
		}
		c := "not cached"
		switch {
		case d.Verified:
			c = "cached, verified"
		case d.Cached:
			c = "cached"
		}
		kv("action", key+" "+c)
	}
	if d.Failed != "" {
		kv("failed", m.st.err.Render(d.Failed))
	}
	missing, debs, debsMissing := 0, 0, 0
	for _, in := range d.Inputs {
		if !in.Present {
			missing++
		}
		if strings.HasPrefix(in.Name, "deb/") {
			debs++
			if !in.Present {
				debsMissing++
			}
		}
	}
	if missing == 0 {
		kv("inputs", fmt.Sprintf("%d, all in the store", len(d.Inputs)))
	} else {
		kv("inputs", m.st.warn.Render(fmt.Sprintf("%d of %d missing", missing, len(d.Inputs)))+m.st.dim.Render(" (f fetches)"))
	}
	mark := m.mark
	for _, in := range d.Inputs {
		if !full && strings.HasPrefix(in.Name, "deb/") {
			continue
		}
		if !full {
			out = append(out, fmt.Sprintf("  %s %s %s %s", mark(in.Present), in.Name, in.Version, m.st.dim.Render(short(in.SHA256))))
			continue
		}
		out = append(out, strings.Split(m.inputLine(in, width), "\n")...)
	}
	if !full && debs > 0 {
		out = append(out, fmt.Sprintf("  %s deb/* %d packages%s", mark(debsMissing == 0), debs, map[bool]string{true: "", false: fmt.Sprintf(", %d missing", debsMissing)}[debsMissing == 0]))
	}
	switch {
	case d.RootErr != "":
		kv("root", m.st.err.Render(d.RootErr))
	default:
		composed := "not composed yet"
		if d.RootComposed {
			composed = "composed"
		}
		key := short(d.RootKey)
		if full {
			key = d.RootKey
		}
		kv("root", fmt.Sprintf("%d packages, %s %s", d.RootPackages, composed, m.st.dim.Render(key)))
	}
	options()
	if d.PackagePath != "" {
		kv("package", d.PackagePath)
	}
	if d.Log != "" {
		kv("log", d.Log)
	}
	if d.Took > 0 {
		kv("took", event.FormatDuration(d.Took)+m.st.dim.Render(" (last build)"))
	}
	if full {
		return out
	}
	// Long values wrap to the pane, keeping their indent.
	var wrapped []string
	for _, l := range out {
		if ansi.StringWidth(l) <= width {
			wrapped = append(wrapped, l)
			continue
		}
		parts := strings.Split(ansi.Wrap(l, width, " "), "\n")
		wrapped = append(wrapped, parts[0])
		rest := strings.Join(parts[1:], " ")
		for _, p := range strings.Split(ansi.Wrap(rest, max(10, width-9), " "), "\n") {
			wrapped = append(wrapped, ansi.Truncate("         "+p, width, "…"))
		}
	}
	return wrapped
}

// inputLine is one input with its whole sha256, on a second line when the
// width needs it.
func (m *model) inputLine(in Input, width int) string {
	l := fmt.Sprintf("  %s %s %s ", m.mark(in.Present), in.Name, in.Version)
	if ansi.StringWidth(l)+len(in.SHA256) > width {
		l += "\n     "
	}
	return l + m.st.dim.Render(in.SHA256)
}

// mark is ✓ for an input in the store, ✗ for a missing one.
func (m *model) mark(ok bool) string {
	if ok {
		return m.st.ok.Render("✓")
	}
	return m.st.warn.Render("✗")
}

// inputLines lists every input of a cell with its sha256.
func (m *model) inputLines(name string, width int) []string {
	d := m.details[name]
	if d == nil || len(d.Inputs) == 0 {
		return nil
	}
	out := []string{m.st.bold.Render("inputs") + m.st.dim.Render(" (✓ in the store)")}
	for _, in := range d.Inputs {
		out = append(out, strings.Split(m.inputLine(in, width), "\n")...)
	}
	return out
}

// summary is the detail in one line, above a log in the pane.
func (m *model) summary(name string) string {
	d := m.details[name]
	if d == nil {
		return m.st.dim.Render("i shows the detail")
	}
	var parts []string
	if d.ActionKey != "" {
		c := "not cached"
		if d.Cached {
			c = "cached"
		}
		parts = append(parts, "action "+short(d.ActionKey)+" "+c)
	}
	missing := 0
	for _, in := range d.Inputs {
		if !in.Present {
			missing++
		}
	}
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d inputs missing", missing))
	} else if len(d.Inputs) > 0 {
		parts = append(parts, "inputs in the store")
	}
	if d.Took > 0 {
		parts = append(parts, "took "+event.FormatDuration(d.Took))
	}
	parts = append(parts, "i detail")
	return m.st.dim.Render(strings.Join(parts, " · "))
}

// renderDetailView is the whole screen detail of the cell under the cursor.
func (m *model) renderDetailView(s *screen) {
	name := m.curName()
	s.line(m.st.title.Render("detail") + m.st.dim.Render("   esc back · ↑↓ scroll · enter full log"))
	lines := m.detailLines(name, m.width, true)
	if t := m.cellLog(name); len(t) > 0 {
		lines = append(lines, "", m.st.bold.Render("log tail"))
		for _, l := range t[max(0, len(t)-20):] {
			lines = append(lines, "  "+sanitize(l))
		}
	}
	body := m.height - 1
	m.detScroll = clamp(m.detScroll, 0, max(0, len(lines)-body))
	for _, l := range lines[m.detScroll:min(len(lines), m.detScroll+body)] {
		s.line(l)
	}
}
