// Package plan expands a manifest and its resolved Postgres versions into the
// matrix of cells (build targets). Expansion is pure and streaming: cells are
// produced one at a time so a matrix of millions never sits in memory.
package plan

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
)

// Postgres is one resolved Postgres release and the lock input holding its source.
type Postgres struct {
	Version manifest.Version
	Input   string // lock input name, e.g. "postgres/15"
}

// Dropped is an option a cell's set asks for but the cell does not get.
type Dropped struct {
	Option manifest.Option `json:"option"`
	Reason string          `json:"reason"`
}

// Cell is one point of the matrix.
type Cell struct {
	Name      string             `json:"name"`
	Postgres  manifest.Version   `json:"postgres"`
	Input     string             `json:"input"` // lock input of the Postgres source
	OptionSet manifest.OptionSet `json:"option_set"`
	Arch      manifest.Arch      `json:"arch"`
	Options   []manifest.Option  `json:"options"`
	Dropped   []Dropped          `json:"dropped,omitempty"`
	// Extension cells only.
	Extension        string `json:"extension,omitempty"`
	ExtensionVersion string `json:"extension_version,omitempty"`
	ExtensionInput   string `json:"extension_input,omitempty"` // lock input of the extension source
	Build            string `json:"build,omitempty"`
	// Parent is the Postgres cell an extension cell is built against.
	Parent string `json:"parent,omitempty"`

	// baseJSON caches appendBase for the cells of one Postgres cell.
	baseJSON []byte
}

// PostgresCellName names a Postgres cell: postgres~15.18~regular~amd64.
func PostgresCellName(v manifest.Version, set manifest.OptionSet, arch manifest.Arch) string {
	return "postgres~" + v.String() + "~" + string(set) + "~" + string(arch)
}

// ExtensionInputName is the lock input name of an extension version's source.
func ExtensionInputName(name, version string) string { return "extension/" + name + "/" + version }

// Options computes the options a cell gets: the set's options minus those the
// version does not support and those the target cannot take. The result is
// shared between calls with equal arguments; callers must not modify it.
func Options(m *manifest.Manifest, v manifest.Version, set manifest.OptionSet, arch manifest.Arch) (opts []manifest.Option, dropped []Dropped) {
	unsupported := m.Targets[string(arch)].Unsupported
	opts = []manifest.Option{} // never nil: JSON shows "options":[] for barebones
	for _, o := range manifest.SetOptions(set) {
		switch {
		case !m.Index.OptionAllowed(o, v):
			dropped = append(dropped, Dropped{o, fmt.Sprintf("needs postgres %s", m.Index.OptionSpecs[o])})
		case slices.Contains(unsupported, o):
			dropped = append(dropped, Dropped{o, "unsupported on " + string(arch) + ", see target." + string(arch) + ".unsupported"})
		default:
			opts = append(opts, o)
		}
	}
	return opts, dropped
}

// Each calls fn for every cell: first each Postgres cell (version × option set
// × arch), then every extension version against every compatible Postgres
// cell. The *Cell is reused between calls: copy what you keep. fn may return
// an error to stop.
func Each(m *manifest.Manifest, pgs []Postgres, fn func(*Cell) error) error {
	type base struct {
		pg      Postgres
		set     manifest.OptionSet
		arch    manifest.Arch
		name    string
		opts    []manifest.Option
		dropped []Dropped
		json    []byte
	}
	var bases []base
	for _, pg := range pgs {
		for _, set := range m.Postgres.OptionSets {
			for _, arch := range m.Postgres.Targets {
				opts, dropped := Options(m, pg.Version, set, arch)
				c := Cell{Postgres: pg.Version, Input: pg.Input, OptionSet: set, Arch: arch, Options: opts, Dropped: dropped}
				bases = append(bases, base{pg, set, arch, PostgresCellName(pg.Version, set, arch), opts, dropped, c.appendBase(nil)})
			}
		}
	}
	var c Cell
	for _, b := range bases {
		c = Cell{Name: b.name, Postgres: b.pg.Version, Input: b.pg.Input, OptionSet: b.set, Arch: b.arch, Options: b.opts, Dropped: b.dropped,
			Build: string(m.Postgres.Build), baseJSON: b.json}
		if err := fn(&c); err != nil {
			return err
		}
	}
	var sb strings.Builder
	compatible := make([]bool, len(bases))
	for _, e := range m.Extensions {
		for i, b := range bases {
			compatible[i] = e.Postgres.Match(b.pg.Version)
		}
		for _, ev := range e.Versions {
			input := ExtensionInputName(e.Name, ev)
			for i, b := range bases {
				if !compatible[i] {
					continue
				}
				sb.Reset()
				sb.Grow(len(e.Name) + len(ev) + len(b.name) + 2)
				sb.WriteString(e.Name)
				sb.WriteByte('~')
				sb.WriteString(ev)
				sb.WriteByte('~')
				sb.WriteString(b.name)
				c = Cell{Name: sb.String(), Postgres: b.pg.Version, Input: b.pg.Input, OptionSet: b.set, Arch: b.arch,
					Options: b.opts, Dropped: b.dropped, Extension: e.Name, ExtensionVersion: ev, ExtensionInput: input,
					Build: string(e.Build), Parent: b.name, baseJSON: b.json}
				if why, ok := e.Excluded(b.pg.Version, b.arch); ok {
					c.Drop(Excluded, why)
				}
				if err := fn(&c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CheckExtensions reports an extension compatible with none of the selected
// Postgres versions, naming it and its constraint.
func CheckExtensions(m *manifest.Manifest, pgs []Postgres) error {
	for i, e := range m.Extensions {
		ok := slices.ContainsFunc(pgs, func(p Postgres) bool { return e.Postgres.Match(p.Version) })
		if !ok {
			var vs []string
			for _, p := range pgs {
				vs = append(vs, p.Version.String())
			}
			return fmt.Errorf("%s: extension[%d] %q: postgres = %q matches none of the selected Postgres versions (%s)", m.File, i, e.Name, e.Postgres, strings.Join(vs, ", "))
		}
	}
	return nil
}

// Match reports whether a cell name matches any of the patterns (path.Match
// globs such as "postgres~15.18~*~amd64"); no patterns match nothing.
func Match(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Excluded is the Dropped.Option of an extension cell its manifest
// entry excludes ([[extension.exclude]]): the cell is listed, not built.
const Excluded manifest.Option = "excluded"

// IsExcluded reports whether the manifest excludes the cell.
func (c *Cell) IsExcluded() bool {
	return slices.ContainsFunc(c.Dropped, func(d Dropped) bool { return d.Option == Excluded })
}

// Drop records that the cell does not get what (an option, or "toolchain"
// when its root cannot be resolved), with the reason.
func (c *Cell) Drop(what manifest.Option, reason string) {
	c.Dropped = append(slices.Clip(c.Dropped), Dropped{what, reason})
	c.baseJSON = nil // the shared JSON no longer fits
}
