package tui

import (
	"path"
	"slices"
	"strings"
)

// column is one (option set, arch) pair of the matrix.
type column struct {
	opt, arch string
}

// row is one Postgres version, or one extension version under it.
type row struct {
	label string
	ext   bool
	cells []int32 // index into grid.cells per column; -1 where no cell exists
}

// grid is the matrix laid out for display. It is rebuilt when the cells
// change; filtering only recomputes vis and match.
type grid struct {
	cells []Cell
	index map[string]int // cell name -> index
	cols  []column
	rows  []row
	// vis lists the rows shown (all rows, or those with a matching cell).
	vis []int
	// match marks cells that match the filter; nil when there is no filter.
	match []bool
	// maxLabel is the widest row label.
	maxLabel int
	// cellRow/cellCol locate each cell in rows/cols.
	cellRow, cellCol []int32
}

// optionOrder ranks the known option sets; unknown ones sort after, by name.
var optionOrder = map[string]int{"barebones": 0, "minimal": 1, "regular": 2, "full": 3, "debug": 4}

func newGrid(cells []Cell) *grid {
	g := &grid{cells: cells, index: make(map[string]int, len(cells))}
	colIdx := map[column]int{}
	for i, c := range cells {
		g.index[c.Name] = i
		k := column{c.OptionSet, c.Arch}
		if _, ok := colIdx[k]; !ok {
			colIdx[k] = 0
			g.cols = append(g.cols, k)
		}
	}
	slices.SortStableFunc(g.cols, func(a, b column) int {
		ra, oka := optionOrder[a.opt]
		rb, okb := optionOrder[b.opt]
		switch {
		case oka && okb && ra != rb:
			return ra - rb
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		case a.opt != b.opt:
			return strings.Compare(a.opt, b.opt)
		}
		return strings.Compare(a.arch, b.arch)
	})
	for i, c := range g.cols {
		colIdx[c] = i
	}

	// Rows: Postgres versions in first-seen order, each followed by its
	// extensions in first-seen order.
	type rowKey struct{ pg, ext, extv string }
	rowIdx := map[rowKey]int{}
	var pgOrder []string
	extOrder := map[string][]rowKey{}
	for _, c := range cells {
		pk := rowKey{pg: c.Postgres}
		if _, ok := rowIdx[pk]; !ok {
			rowIdx[pk] = -1
			pgOrder = append(pgOrder, c.Postgres)
		}
		if c.Extension != "" {
			k := rowKey{c.Postgres, c.Extension, c.ExtensionVersion}
			if _, ok := rowIdx[k]; !ok {
				rowIdx[k] = -1
				extOrder[c.Postgres] = append(extOrder[c.Postgres], k)
			}
		}
	}
	newRow := func(k rowKey) {
		r := row{cells: make([]int32, len(g.cols)), ext: k.ext != ""}
		for i := range r.cells {
			r.cells[i] = -1
		}
		if r.ext {
			r.label = "  " + k.ext + " " + k.extv
		} else {
			r.label = "postgres " + k.pg
		}
		rowIdx[k] = len(g.rows)
		g.rows = append(g.rows, r)
		g.maxLabel = max(g.maxLabel, len(r.label))
	}
	for _, pg := range pgOrder {
		newRow(rowKey{pg: pg})
		for _, k := range extOrder[pg] {
			newRow(k)
		}
	}
	g.cellRow = make([]int32, len(cells))
	g.cellCol = make([]int32, len(cells))
	for i, c := range cells {
		ri := rowIdx[rowKey{c.Postgres, c.Extension, c.ExtensionVersion}]
		ci := colIdx[column{c.OptionSet, c.Arch}]
		g.rows[ri].cells[ci] = int32(i)
		g.cellRow[i], g.cellCol[i] = int32(ri), int32(ci)
	}
	g.setFilter("")
	return g
}

// setFilter shows only rows with a cell whose name matches f: a glob when f
// contains *, ? or [, a substring otherwise. An empty f shows everything.
func (g *grid) setFilter(f string) {
	g.vis = g.vis[:0]
	if f == "" {
		g.match = nil
		for i := range g.rows {
			g.vis = append(g.vis, i)
		}
		return
	}
	g.match = make([]bool, len(g.cells))
	glob := strings.ContainsAny(f, "*?[")
	for i, c := range g.cells {
		if glob {
			ok, err := path.Match(f, c.Name)
			g.match[i] = ok && err == nil
		} else {
			g.match[i] = strings.Contains(c.Name, f)
		}
	}
	for i, r := range g.rows {
		for _, ci := range r.cells {
			if ci >= 0 && g.match[ci] {
				g.vis = append(g.vis, i)
				break
			}
		}
	}
}

// matches reports whether cell i passes the filter.
func (g *grid) matches(i int) bool { return g.match == nil || g.match[i] }

// at returns the cell index at visible row r, column c, or -1.
func (g *grid) at(r, c int) int {
	if r < 0 || r >= len(g.vis) || c < 0 || c >= len(g.cols) {
		return -1
	}
	return int(g.rows[g.vis[r]].cells[c])
}
