package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Postgres release version: major.minor (15.18, 17.0). Majors
// before 10 (9.6.24) have three parts; Minor then holds the last part and
// Mid the middle one.
type Version struct {
	Major, Mid, Minor int
	three             bool
}

// ParseVersion parses "15.18" or "9.6.24".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("invalid Postgres version %q: want MAJOR.MINOR like 15.18", s)
	}
	n := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("invalid Postgres version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	if len(n) == 3 {
		return Version{Major: n[0], Mid: n[1], Minor: n[2], three: true}, nil
	}
	return Version{Major: n[0], Minor: n[1]}, nil
}

// MustVersion is ParseVersion for constants; it panics on error.
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string {
	b := make([]byte, 0, 12)
	b = strconv.AppendInt(b, int64(v.Major), 10)
	if v.three {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(v.Mid), 10)
	}
	b = append(b, '.')
	return string(strconv.AppendInt(b, int64(v.Minor), 10))
}

// MajorString is the major as Postgres names it: "15", or "9.6" before 10.
func (v Version) MajorString() string {
	if v.three {
		return fmt.Sprintf("%d.%d", v.Major, v.Mid)
	}
	return strconv.Itoa(v.Major)
}

// Compare orders versions numerically.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Mid, w.Mid}, {v.Minor, w.Minor}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// MarshalText implements encoding.TextMarshaler.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Spec selects versions: "15.18" (exactly), "17.*" or "17" (any 17.x),
// "*" (any), or comma-separated comparisons ">=16.2,<17". Comparison operands
// may be a bare major ("<17" means below 17.0).
type Spec struct {
	text  string
	exact *Version
	major int // >=0 for "17.*"
	any   bool
	cmps  []cmp
}

type cmp struct {
	op string
	v  Version
}

// ParseSpec parses a version spec.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	sp := Spec{text: s, major: -1}
	switch {
	case s == "":
		return sp, fmt.Errorf("empty version spec")
	case s == "*":
		sp.any = true
		return sp, nil
	case strings.HasSuffix(s, ".*") || !strings.ContainsAny(s, ".<>=!,"):
		m, err := strconv.Atoi(strings.TrimSuffix(s, ".*"))
		if err != nil || m < 0 {
			return sp, fmt.Errorf("invalid version spec %q: want 15.18, 17.*, or >=16.2,<17", s)
		}
		sp.major = m
		return sp, nil
	case !strings.ContainsAny(s, "<>=!,"):
		v, err := ParseVersion(s)
		if err != nil {
			return sp, fmt.Errorf("invalid version spec %q: want 15.18, 17.*, or >=16.2,<17", s)
		}
		sp.exact = &v
		return sp, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		op := ""
		for _, o := range []string{">=", "<=", "==", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op = o
				break
			}
		}
		if op == "" {
			return sp, fmt.Errorf("invalid version spec %q: %q has no operator (>=, >, <=, <, ==, !=)", s, part)
		}
		operand := strings.TrimSpace(part[len(op):])
		if !strings.Contains(operand, ".") {
			operand += ".0"
		}
		v, err := ParseVersion(operand)
		if err != nil {
			return sp, fmt.Errorf("invalid version spec %q: %v", s, err)
		}
		if op == "=" {
			op = "=="
		}
		sp.cmps = append(sp.cmps, cmp{op, v})
	}
	return sp, nil
}

// Match reports whether v satisfies the spec.
func (s Spec) Match(v Version) bool {
	switch {
	case s.any:
		return true
	case s.exact != nil:
		return s.exact.Compare(v) == 0
	case s.major >= 0:
		return v.Major == s.major
	}
	for _, c := range s.cmps {
		if !c.match(v.Compare(c.v)) {
			return false
		}
	}
	return len(s.cmps) > 0
}

// match reports whether a comparison result r (as from Compare) satisfies c.
func (c cmp) match(r int) bool {
	switch c.op {
	case ">=":
		return r >= 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	case "<":
		return r < 0
	case "==":
		return r == 0
	case "!=":
		return r != 0
	}
	return false
}

// Exact returns the version when the spec names exactly one.
func (s Spec) Exact() (Version, bool) {
	if s.exact == nil {
		return Version{}, false
	}
	return *s.exact, true
}

// Major returns the single major the spec is confined to, if any.
func (s Spec) Major() (int, bool) {
	switch {
	case s.exact != nil:
		return s.exact.Major, true
	case s.major >= 0:
		return s.major, true
	}
	return 0, false
}

func (s Spec) String() string { return s.text }

// MarshalText implements encoding.TextMarshaler.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.text), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Spec) UnmarshalText(b []byte) error {
	p, err := ParseSpec(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
