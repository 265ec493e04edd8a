package suggest

import (
	"slices"
	"testing"
)

func TestClosest(t *testing.T) {
	cells := []string{"postgres~15.18~barebones~amd64", "postgres~15.18~regular~amd64", "postgres~18.6~barebones~amd64"}
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"bulid", []string{"build", "lock", "plan"}, []string{"build"}},
		{"jsn", []string{"json", "jobs", "out"}, []string{"json"}},
		{"postgres~15.18~barebone~amd64", cells, []string{"postgres~15.18~barebones~amd64", "postgres~18.6~barebones~amd64"}},
		{"xyz", []string{"build", "lock"}, nil},
		{"postgres/51", []string{"postgres/15", "postgres/18", "deb/amd64/gcc-12"}, []string{"postgres/15", "postgres/18"}},
	} {
		if got := Closest(tc.name, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
