// Package shard splits a selection of cells between N machines
// (`monogres build --shard K/N`), so the CI system a team already runs (a
// GitHub Actions matrix, Kubernetes Indexed Jobs, GitLab parallel jobs)
// spreads a build without a scheduler of monogres' own.
//
// Invariants: the split is a pure function of the selected cell names and
// N (every machine computes the same one, in any order of input); every
// cell is in exactly one shard; an extension cell is in its parent's shard
// (the parent's package is its input), except when that unit alone would
// cost more than a fair share, or its parent is not selected: then its
// shard takes the parent from the remote cache (or builds it).
package shard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/monogres/monogres/internal/plan"
)

// Spec is K/N: this machine's shard K (1-based) of N.
type Spec struct{ K, N int }

// Parse reads "K/N" with 1 <= K <= N.
func Parse(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return Spec{}, fmt.Errorf("--shard %q: want K/N with 1 <= K <= N, such as 2/4", s)
	}
	return Spec{k, n}, nil
}

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Cost estimates a cell's build time in seconds, from what was measured
// on a 2-core amd64 machine: a Postgres cell takes 5-7 minutes by option
// set (more options, more code), a cross-compiled arm64 one longer (its
// smoke test runs under qemu); an extension cell 4-20 seconds.
func Cost(c plan.Cell) int {
	if c.Extension != "" {
		return 15
	}
	cost := setCost[string(c.OptionSet)]
	if cost == 0 {
		cost = 400
	}
	if c.Arch != "amd64" {
		cost = cost * 13 / 10
	}
	return cost
}

var setCost = map[string]int{"barebones": 300, "minimal": 320, "regular": 380, "full": 480, "debug": 420}

// unit is cells (indexes) that go to one shard together.
type unit struct {
	cells []int
	cost  int
	name  string // its least cell name, for a stable order
}

// Split assigns each cell to a shard: units (a Postgres cell with its
// selected extension cells; the extension cells of an unselected parent)
// go, most costly first, to the least loaded shard. A unit costing more
// than total/N is split into single cells first. Split returns the shards
// in order, each in the order cells were given.
func Split(cells []plan.Cell, n int) [][]plan.Cell {
	cost := make([]int, len(cells))
	group := map[string]*unit{}
	var units []*unit
	total := 0
	for i := range cells {
		c := &cells[i]
		key := c.Name
		if c.Extension != "" {
			key = c.Parent // with its parent, or with its unselected parent's other extensions
		}
		u := group[key]
		if u == nil {
			u = &unit{name: c.Name}
			group[key] = u
			units = append(units, u)
		}
		cost[i] = Cost(*c)
		u.cells = append(u.cells, i)
		u.cost += cost[i]
		u.name = min(u.name, c.Name)
		total += cost[i]
	}
	var split []*unit
	for _, u := range units {
		if len(u.cells) > 1 && u.cost*n > total {
			for _, i := range u.cells {
				split = append(split, &unit{cells: []int{i}, cost: cost[i], name: cells[i].Name})
			}
			continue
		}
		split = append(split, u)
	}
	slices.SortFunc(split, func(a, b *unit) int {
		if a.cost != b.cost {
			return b.cost - a.cost
		}
		return strings.Compare(a.name, b.name)
	})
	load := make([]int, n)
	which := make([]int, len(cells))
	for _, u := range split {
		best := 0
		for k := range load {
			if load[k] < load[best] {
				best = k
			}
		}
		load[best] += u.cost
		for _, i := range u.cells {
			which[i] = best
		}
	}
	size := make([]int, n)
	for _, k := range which {
		size[k]++
	}
	out := make([][]plan.Cell, n)
	for k := range out {
		out[k] = make([]plan.Cell, 0, size[k])
	}
	for i, c := range cells {
		out[which[i]] = append(out[which[i]], c)
	}
	return out
}

// Select is shard s.K of cells.
func Select(cells []plan.Cell, s Spec) []plan.Cell { return Split(cells, s.N)[s.K-1] }
