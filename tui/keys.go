package tui

import "charm.land/bubbles/v2/key"

// keyMap lists the bindings shown by help. Update matches on key strings
// through these bindings, so help and behaviour cannot drift apart.
type keyMap struct {
	Up, Down, Left, Right, PageUp, PageDown, Top, Bottom key.Binding
	Select, SelectAll, Clear, Filter                     key.Binding
	Build, Verify, Cancel, Log, Lock, Reload             key.Binding
	Fetch, FetchAll, Detail, Older, Newer                key.Binding
	Accept, Reject                                       key.Binding
	Help, Quit                                           key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Up:        b([]string{"up", "k"}, "↑/k", "up"),
		Down:      b([]string{"down", "j"}, "↓/j", "down"),
		Left:      b([]string{"left", "h"}, "←/h", "left"),
		Right:     b([]string{"right", "l"}, "→/l", "right"),
		PageUp:    b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		PageDown:  b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		Top:       b([]string{"home", "g"}, "g", "first row"),
		Bottom:    b([]string{"end", "G"}, "G", "last row"),
		Select:    b([]string{"space"}, "space", "select cell"),
		SelectAll: b([]string{"a"}, "a", "select all shown"),
		Clear:     b([]string{"esc"}, "esc", "clear selection/filter"),
		Filter:    b([]string{"/"}, "/", "filter (substring or glob)"),
		Build:     b([]string{"b"}, "b", "build selected"),
		Verify:    b([]string{"v"}, "v", "verify selected"),
		Cancel:    b([]string{"x"}, "x", "cancel running work"),
		Fetch:     b([]string{"f"}, "f", "fetch inputs of selected"),
		FetchAll:  b([]string{"F"}, "F", "fetch inputs of all shown"),
		Detail:    b([]string{"i"}, "i", "detail of cell"),
		Older:     b([]string{"["}, "[", "older log"),
		Newer:     b([]string{"]"}, "]", "newer log"),
		Log:       b([]string{"enter"}, "enter", "full log of cell"),
		Lock:      b([]string{"L"}, "L", "lock diff"),
		Reload:    b([]string{"r"}, "r", "reload matrix"),
		Accept:    b([]string{"y", "enter"}, "y/enter", "write the lock"),
		Reject:    b([]string{"n", "esc"}, "n/esc", "reject, write nothing"),
		Help:      b([]string{"?"}, "?", "help"),
		Quit:      b([]string{"q", "ctrl+c"}, "q/ctrl+c", "quit (cancels work)"),
	}
}

// hb is a binding shown in help only; several real bindings may share one.
func hb(k, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc))
}

// ShortHelp is the one-line footer.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{hb("?", "help"), hb("space", "select"), hb("b", "build"), hb("f", "fetch"),
		hb("i", "info"), hb("/", "filter"), hb("L", "lock"), hb("q", "quit")}
}

// FullHelp is the help screen, in columns that fit 80 columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{hb("↑↓←→ hjkl", "move"), hb("pgup/pgdn", "page"), hb("g/G", "first/last row"),
			hb("/", "filter"), hb("esc", "clear sel./filter"), hb("r", "reload matrix")},
		{hb("space", "select cell"), hb("a", "select all shown"), hb("b", "build"),
			hb("v", "verify"), hb("f/F", "fetch sel./all shown"), hb("x", "cancel work")},
		{hb("i", "cell detail"), hb("enter", "full log"), hb("L", "lock diff"), hb("y/enter", "write lock"),
			hb("n/esc", "reject lock"), hb("?/q", "help/quit")},
	}
}
