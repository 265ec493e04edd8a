package lock

import (
	"fmt"
	"slices"
	"strings"
)

// fieldDiffs lists how the locked input got differs from want, field by
// field: "sha256 is X, but ROOT says Y".
func fieldDiffs(got, want Input, root string) []string {
	var out []string
	diff := func(field, g, w string) {
		if g != w {
			if g == "" {
				g = "empty"
			}
			if w == "" {
				w = "empty"
			}
			out = append(out, fmt.Sprintf("the lock says %s %s, but %s says %s", field, g, root, w))
		}
	}
	diff("kind", got.Kind, want.Kind)
	diff("version", got.Version, want.Version)
	diff("arch", got.Arch, want.Arch)
	diff("sha256", got.SHA256, want.SHA256)
	if got.Size != want.Size {
		diff("size", fmt.Sprint(got.Size), fmt.Sprint(want.Size))
	}
	diff("urls", strings.Join(got.URLs, " "), strings.Join(want.URLs, " "))
	diff("strip_prefix", got.StripPrefix, want.StripPrefix)
	if got.SourceDateEpoch != want.SourceDateEpoch {
		diff("source_date_epoch", fmt.Sprint(got.SourceDateEpoch), fmt.Sprint(want.SourceDateEpoch))
	}
	diff("apt", got.Apt, want.Apt)
	diff("roots", strings.Join(got.Roots, ","), strings.Join(want.Roots, ","))
	return out
}

// VerifyPins compares the inputs of l that match with want, the same
// inputs derived again from their trust root; root(in) names that root for
// an input (e.g. "index/bookworm/main/binary-amd64/Packages.xz, listed in
// index/bookworm/InRelease signed by …"). It returns one reason per
// difference: a changed field, an input the root yields that the lock
// lacks, and a locked input the root does not yield.
func VerifyPins(l *Lock, want []Input, match func(Input) bool, root func(Input) string) []string {
	var reasons []string
	wanted := make(map[string]bool, len(want))
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, func(a, b Input) int { return strings.Compare(a.Name, b.Name) })
	for _, w := range sorted {
		wanted[w.Name] = true
		got, ok := l.Find(w.Name)
		if !ok {
			reasons = append(reasons, fmt.Sprintf("input %s is missing from the lock, but %s lists it (%s %s, sha256 %s) for the toolchain", w.Name, root(w), w.Name, w.Version, w.SHA256))
			continue
		}
		for _, d := range fieldDiffs(got, w, root(w)) {
			reasons = append(reasons, fmt.Sprintf("input %s: %s", w.Name, d))
		}
	}
	for _, in := range l.Inputs {
		if match(in) && !wanted[in.Name] {
			reasons = append(reasons, fmt.Sprintf("input %s is in the lock, but the toolchain resolved from %s does not include it", in.Name, root(in)))
		}
	}
	return reasons
}

// VerifyRoots compares the toolchain layers of l with want, derived again
// from root; it returns one reason per difference.
func VerifyRoots(l *Lock, want []Root, root string) []string {
	var reasons []string
	have := map[string]Root{}
	for _, r := range l.Roots {
		have[r.Name] = r
	}
	seen := map[string]bool{}
	for _, w := range want {
		seen[w.Name] = true
		h, ok := have[w.Name]
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("toolchain root %s is missing from the lock, but %s has it", w.Name, root))
		case h.Request != w.Request:
			reasons = append(reasons, fmt.Sprintf("toolchain root %s: the lock says request %s, but the manifest asks for %s", w.Name, h.Request, w.Request))
		case h.Dropped != w.Dropped:
			reasons = append(reasons, fmt.Sprintf("toolchain root %s: the lock says dropped %q, but %s says %q", w.Name, h.Dropped, root, w.Dropped))
		}
	}
	for _, r := range l.Roots {
		if !seen[r.Name] {
			reasons = append(reasons, fmt.Sprintf("toolchain root %s is in the lock, but %s does not have it", r.Name, root))
		}
	}
	return reasons
}
