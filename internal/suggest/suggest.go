// Package suggest finds the names closest to a misspelled one, for
// did-you-mean hints (commands, flags, cells, lock inputs).
package suggest

import (
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest returns up to three candidates nearest to name: those within an
// edit distance of a fifth of name's length (at least 2), or that name is a
// prefix of, nearest first.
func Closest(name string, candidates []string) []string {
	limit := max(2, len(name)/5)
	type scored struct {
		s string
		d int
	}
	var best []scored
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] || c == name {
			continue
		}
		seen[c] = true
		d := levenshtein.ComputeDistance(strings.ToLower(name), strings.ToLower(c))
		if d <= limit || (len(name) >= 3 && strings.HasPrefix(c, name)) {
			best = append(best, scored{c, d})
		}
	}
	sort.SliceStable(best, func(i, j int) bool {
		if best[i].d != best[j].d {
			return best[i].d < best[j].d
		}
		return best[i].s < best[j].s
	})
	var out []string
	for _, b := range best[:min(3, len(best))] {
		out = append(out, b.s)
	}
	return out
}
