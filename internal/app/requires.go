package app

import (
	"fmt"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
)

// requireIndex holds the cells of the extensions others require (an
// [[extension]]'s requires): extension name → parent Postgres cell → its
// cells against that parent. It is nil when no extension requires another.
type requireIndex map[string]map[string][]plan.Cell

func newRequireIndex(m *manifest.Manifest) requireIndex {
	var idx requireIndex
	for _, e := range m.Extensions {
		for _, r := range e.Requires {
			if idx == nil {
				idx = requireIndex{}
			}
			idx[r] = map[string][]plan.Cell{}
		}
	}
	return idx
}

// add indexes c if it is a cell of a required extension.
func (idx requireIndex) add(c *plan.Cell) {
	if byParent, ok := idx[c.Extension]; ok && c.Extension != "" && !c.IsExcluded() {
		byParent[c.Parent] = append(byParent[c.Parent], *c)
	}
}

// requires are the cells extension cell c needs installed beside its
// parent, with their own requirements, each after what it requires: the
// one cell of each required extension against the same parent.
func (idx requireIndex) requires(m *manifest.Manifest, c plan.Cell) ([]plan.Cell, error) {
	if idx == nil || c.Extension == "" {
		return nil, nil
	}
	var out []plan.Cell
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		e := manifestExtension(m, name)
		if e == nil {
			return nil
		}
		for _, r := range e.Requires {
			if seen[r] {
				continue
			}
			seen[r] = true
			cs := idx[r][c.Parent]
			switch len(cs) {
			case 0:
				return fmt.Errorf("%s: extension %s requires %s, which has no cell against %s (excluded or not built for it: see `monogres plan`)", c.Name, name, r, c.Parent)
			case 1:
			default:
				return fmt.Errorf("%s: extension %s requires %s, which has %d versions against %s: requires needs exactly one (keep one in its versions, or exclude the others for this target)", c.Name, name, r, len(cs), c.Parent)
			}
			if err := visit(r); err != nil {
				return err
			}
			out = append(out, cs[0])
		}
		return nil
	}
	err := visit(c.Extension)
	return out, err
}
