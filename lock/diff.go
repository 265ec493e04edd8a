package lock

import (
	"fmt"
	"slices"
	"strings"
)

// ChangeKind says how an input changed between two locks.
type ChangeKind string

const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Updated ChangeKind = "updated"
)

// Change is one input's difference between an old and a new lock.
type Change struct {
	Kind ChangeKind
	Name string
	Old  *Input // nil when Added
	New  *Input // nil when Removed
}

// Diff lists the changes from old (may be nil) to new, sorted by name.
func Diff(old, new *Lock) []Change {
	var out []Change
	var oldIn []Input
	if old != nil {
		oldIn = old.Inputs
	}
	i, j := 0, 0
	for i < len(oldIn) || j < len(new.Inputs) {
		switch {
		case j == len(new.Inputs) || (i < len(oldIn) && oldIn[i].Name < new.Inputs[j].Name):
			out = append(out, Change{Kind: Removed, Name: oldIn[i].Name, Old: &oldIn[i]})
			i++
		case i == len(oldIn) || new.Inputs[j].Name < oldIn[i].Name:
			out = append(out, Change{Kind: Added, Name: new.Inputs[j].Name, New: &new.Inputs[j]})
			j++
		default:
			if !equalInput(oldIn[i], new.Inputs[j]) {
				out = append(out, Change{Kind: Updated, Name: new.Inputs[j].Name, Old: &oldIn[i], New: &new.Inputs[j]})
			}
			i++
			j++
		}
	}
	return out
}

func equalInput(a, b Input) bool {
	return a.Kind == b.Kind && a.Version == b.Version && a.Arch == b.Arch && slices.Equal(a.URLs, b.URLs) &&
		a.SHA256 == b.SHA256 && a.Size == b.Size && a.StripPrefix == b.StripPrefix &&
		a.SourceDateEpoch == b.SourceDateEpoch && a.Apt == b.Apt && slices.Equal(a.Roots, b.Roots)
}

// short renders "17.7 (sha256:cd34ab12…)" with n hex digits.
func short(in *Input, n int) string {
	h := in.SHA256
	switch {
	case h == "":
		h = "not yet hashed"
	case n >= len(h):
		h = "sha256:" + h
	default:
		h = "sha256:" + h[:n] + "…"
	}
	if in.Version == "" {
		return "(" + h + ")"
	}
	return in.Version + " (" + h + ")"
}

// String renders a change the way Nix reports flake lock updates:
//
//   - Updated 'postgres/17': 17.6 (sha256:ab12…) → 17.7 (sha256:cd34…)
func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("• Added '%s': %s", c.Name, short(c.New, 12))
	case Removed:
		return fmt.Sprintf("• Removed '%s': %s", c.Name, short(c.Old, 12))
	}
	// Show enough of two different hashes to tell them apart.
	n := 12
	for a, b := c.Old.SHA256, c.New.SHA256; a != b && n < min(len(a), len(b)) && a[:n] == b[:n]; {
		n += 4
	}
	s := fmt.Sprintf("• Updated '%s': %s → %s", c.Name, short(c.Old, n), short(c.New, n))
	var what []string
	if !slices.Equal(c.Old.URLs, c.New.URLs) {
		what = append(what, "urls")
	}
	if c.Old.StripPrefix != c.New.StripPrefix {
		what = append(what, "strip_prefix")
	}
	if c.Old.Apt != c.New.Apt {
		what = append(what, "apt")
	}
	if c.Old.Size != c.New.Size {
		what = append(what, "size")
	}
	if !slices.Equal(c.Old.Roots, c.New.Roots) {
		what = append(what, "roots")
	}
	if len(what) > 0 && c.Old.SHA256 == c.New.SHA256 && c.Old.Version == c.New.Version {
		s += " (" + strings.Join(what, ", ") + " changed)"
	}
	return s
}

// Summarize renders changes one per line.
func Summarize(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}
