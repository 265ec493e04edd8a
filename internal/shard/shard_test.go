package shard_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/shard"
)

func matrix(t *testing.T) []plan.Cell {
	_, cells, err := app.New("../../monogres.toml").Select([]string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	return cells
}

func names(cs []plan.Cell) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestSplitPartitions: on the repository's whole matrix, for N = 1..7,
// every cell is in exactly one shard, the split does not depend on the
// order cells are listed in, extension cells are with their parent, and
// no shard costs more than a fair share plus the costliest unit.
func TestSplitPartitions(t *testing.T) {
	cells := matrix(t)
	if len(cells) < 50 {
		t.Fatalf("only %d cells in the matrix", len(cells))
	}
	for n := 1; n <= 7; n++ {
		shards := shard.Split(cells, n)
		seen := map[string]int{}
		total, most := 0, 0
		for k, s := range shards {
			load := 0
			for _, c := range s {
				if _, dup := seen[c.Name]; dup {
					t.Fatalf("N=%d: %s in two shards", n, c.Name)
				}
				seen[c.Name] = k
				load += shard.Cost(c)
			}
			total += load
			most = max(most, load)
		}
		if len(seen) != len(cells) {
			t.Fatalf("N=%d: %d of %d cells assigned", n, len(seen), len(cells))
		}
		for _, c := range cells {
			if c.Extension != "" && seen[c.Name] != seen[c.Parent] {
				t.Errorf("N=%d: %s not in its parent's shard", n, c.Name)
			}
		}
		if fair := total / n; most > fair+480*13/10+3*15 {
			t.Errorf("N=%d: a shard costs %d, fair share %d", n, most, fair)
		}
		shuffled := slices.Clone(cells)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again := shard.Split(shuffled, n)
		for k := range shards {
			a, b := names(shards[k]), names(again[k])
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Fatalf("N=%d shard %d depends on the input order:\n%q\n%q", n, k+1, a, b)
			}
		}
	}
}

// TestSplitOnePostgresCell: one Postgres cell and its three extensions in
// two shards: the Postgres cell alone would be more than a fair share with
// them, so its extensions go to the other shard (which takes the parent
// from the remote cache).
func TestSplitOnePostgresCell(t *testing.T) {
	var sel []plan.Cell
	for _, c := range matrix(t) {
		switch c.Name {
		case "postgres~15.18~barebones~amd64", "pg_similarity~1.0~postgres~15.18~barebones~amd64",
			"numeral~1.3~postgres~15.18~barebones~amd64", "pg_rational~0.0.2~postgres~15.18~barebones~amd64":
			sel = append(sel, c)
		}
	}
	if len(sel) != 4 {
		t.Fatalf("selected %q", names(sel))
	}
	s := shard.Split(sel, 2)
	if len(s[0]) != 1 || s[0][0].Name != "postgres~15.18~barebones~amd64" || len(s[1]) != 3 {
		t.Fatalf("shards %q / %q", names(s[0]), names(s[1]))
	}
	if got := shard.Split(sel, 1); len(got[0]) != 4 {
		t.Fatalf("one shard: %q", names(got[0]))
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", "0/2", "3/2", "1/0", "a/b", "1", "1/2/3"} {
		if _, err := shard.Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if s, err := shard.Parse("2/4"); err != nil || s != (shard.Spec{K: 2, N: 4}) {
		t.Fatalf("2/4: %v %v", s, err)
	}
}

// BenchmarkSplit: splitting 100,000 cells between 64 shards.
func BenchmarkSplit(b *testing.B) {
	var cells []plan.Cell
	for i := range 2000 {
		pg := plan.Cell{Name: fmt.Sprintf("postgres~%d~regular~amd64", i), OptionSet: "regular", Arch: "amd64"}
		cells = append(cells, pg)
		for j := range 49 {
			cells = append(cells, plan.Cell{Name: fmt.Sprintf("x%d~1~%s", j, pg.Name), Extension: fmt.Sprint("x", j), Parent: pg.Name})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		shard.Split(cells, 64)
	}
}
