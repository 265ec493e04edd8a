package manifest

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in          string
		major, mid  int
		minor       int
		str, majStr string
		err         string
	}{
		{in: "15.18", major: 15, minor: 18, str: "15.18", majStr: "15"},
		{in: "17.0", major: 17, minor: 0, str: "17.0", majStr: "17"},
		{in: "9.6.24", major: 9, mid: 6, minor: 24, str: "9.6.24", majStr: "9.6"},
		{in: "15", err: `invalid Postgres version "15": want MAJOR.MINOR like 15.18`},
		{in: "1.2.3.4", err: `invalid Postgres version "1.2.3.4": want MAJOR.MINOR like 15.18`},
		{in: "", err: `invalid Postgres version "": want MAJOR.MINOR like 15.18`},
		{in: "15.", err: `invalid Postgres version "15.": "" is not a number`},
		{in: "15.01", err: `invalid Postgres version "15.01": "01" is not a number`},
		{in: "a.1", err: `invalid Postgres version "a.1": "a" is not a number`},
		{in: "15.-1", err: `invalid Postgres version "15.-1": "-1" is not a number`},
		{in: "15.1rc1", err: `invalid Postgres version "15.1rc1": "1rc1" is not a number`},
	} {
		v, err := ParseVersion(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseVersion(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tc.in, err)
			continue
		}
		if v.Major != tc.major || v.Mid != tc.mid || v.Minor != tc.minor || v.String() != tc.str || v.MajorString() != tc.majStr {
			t.Errorf("ParseVersion(%q) = %+v (%s, major %s), want %d.%d.%d (%s, major %s)", tc.in, v, v, v.MajorString(), tc.major, tc.mid, tc.minor, tc.str, tc.majStr)
		}
		var u Version
		if err := u.UnmarshalText([]byte(tc.in)); err != nil || u != v {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.in, u, err, v)
		}
		if b, _ := v.MarshalText(); string(b) != tc.str {
			t.Errorf("MarshalText(%q) = %q", tc.in, b)
		}
	}
}

func TestVersionCompare(t *testing.T) {
	// Each version is below every later one.
	ordered := []string{"9.6.0", "9.6.24", "10.0", "10.23", "15.2", "15.10", "15.18", "16.0", "16.11", "17.0", "17.7", "18.1"}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := MustVersion(a).Compare(MustVersion(b)); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestMustVersionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustVersion(\"x\") did not panic")
		}
	}()
	MustVersion("x")
}

func TestSpec(t *testing.T) {
	all := []string{"9.6.24", "15.1", "15.18", "16.0", "16.1", "16.2", "16.11", "17.0", "17.3", "17.7", "18.0", "18.1"}
	for _, tc := range []struct {
		spec  string
		match []string // the versions of all it matches
		exact string   // Exact(), if any
		major int      // Major(), -1 if none
	}{
		{spec: "15.18", match: []string{"15.18"}, exact: "15.18", major: 15},
		{spec: "17.*", match: []string{"17.0", "17.3", "17.7"}, major: 17},
		{spec: "17", match: []string{"17.0", "17.3", "17.7"}, major: 17},
		{spec: " 16.* ", match: []string{"16.0", "16.1", "16.2", "16.11"}, major: 16},
		{spec: "*", match: all, major: -1},
		{spec: ">=16.2,<17", match: []string{"16.2", "16.11"}, major: -1},
		{spec: ">= 16.2 , < 17", match: []string{"16.2", "16.11"}, major: -1},
		{spec: ">=17", match: []string{"17.0", "17.3", "17.7", "18.0", "18.1"}, major: -1},
		{spec: ">17", match: []string{"17.3", "17.7", "18.0", "18.1"}, major: -1}, // bare major means 17.0
		{spec: "<16", match: []string{"9.6.24", "15.1", "15.18"}, major: -1},
		{spec: "<=16.1", match: []string{"9.6.24", "15.1", "15.18", "16.0", "16.1"}, major: -1},
		{spec: "==17.3", match: []string{"17.3"}, major: -1},
		{spec: "=17.3", match: []string{"17.3"}, major: -1},
		{spec: ">=17,!=17.3", match: []string{"17.0", "17.7", "18.0", "18.1"}, major: -1},
		{spec: ">=15.0,<15.0", match: nil, major: -1},
	} {
		s, err := ParseSpec(tc.spec)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.spec, err)
			continue
		}
		var got []string
		for _, v := range all {
			if s.Match(MustVersion(v)) {
				got = append(got, v)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.match, " ") {
			t.Errorf("%q matches %v, want %v", tc.spec, got, tc.match)
		}
		if v, ok := s.Exact(); ok != (tc.exact != "") || (ok && v.String() != tc.exact) {
			t.Errorf("%q.Exact() = %v, %v; want %q", tc.spec, v, ok, tc.exact)
		}
		if m, ok := s.Major(); ok != (tc.major >= 0) || (ok && m != tc.major) {
			t.Errorf("%q.Major() = %d, %v; want %d", tc.spec, m, ok, tc.major)
		}
		if s.String() != strings.TrimSpace(tc.spec) {
			t.Errorf("%q.String() = %q", tc.spec, s.String())
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":          `empty version spec`,
		"   ":       `empty version spec`,
		"abc":       `invalid version spec "abc": want 15.18, 17.*, or >=16.2,<17`,
		"17.x":      `invalid version spec "17.x": want 15.18, 17.*, or >=16.2,<17`,
		"17.*.*":    `invalid version spec "17.*.*": want 15.18, 17.*, or >=16.2,<17`,
		"-1":        `invalid version spec "-1": want 15.18, 17.*, or >=16.2,<17`,
		"~17":       `invalid version spec "~17": want 15.18, 17.*, or >=16.2,<17`,
		">=16,":     `invalid version spec ">=16,": "" has no operator (>=, >, <=, <, ==, !=)`,
		"16,<17":    `invalid version spec "16,<17": "16" has no operator (>=, >, <=, <, ==, !=)`,
		">=sixteen": `invalid version spec ">=sixteen": invalid Postgres version "sixteen.0": "sixteen" is not a number`,
		"=>17":      `invalid version spec "=>17": invalid Postgres version ">17.0": ">17" is not a number`,
	} {
		_, err := ParseSpec(spec)
		if err == nil || err.Error() != want {
			t.Errorf("ParseSpec(%q) error = %v, want %q", spec, err, want)
		}
		var s Spec
		if err := s.UnmarshalText([]byte(spec)); err == nil {
			t.Errorf("Spec.UnmarshalText(%q) succeeded", spec)
		}
	}
}
