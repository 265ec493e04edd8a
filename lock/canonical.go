package lock

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeCanonical parses the form Encode writes, line by line: the only
// lock decoder, linear in the input. Lines may end in CRLF and the last
// newline may be missing; anything else Encode would not write is an error
// at its line.
func decodeCanonical(data []byte) (l *Lock, line int, err error) {
	l = &Lock{}
	var in *Input
	var root *Root
	seen := map[string]bool{} // keys set in the current table
	text := strings.TrimSuffix(string(data), "\n")
	lines := strings.Split(text, "\n")
	if n := bytes.Count(data, []byte("\n[[input]]")); n > 0 {
		l.Inputs = make([]Input, 0, n)
	}
	bad := func(i int, format string, args ...any) (*Lock, int, error) {
		return nil, i + 1, fmt.Errorf(format, args...)
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		if line == "" {
			continue
		}
		if line[0] == '#' {
			if !plainText(line) {
				return bad(i, "comment holds control characters or invalid UTF-8")
			}
			continue
		}
		if line == "[[root]]" {
			l.Roots = append(l.Roots, Root{})
			root, in = &l.Roots[len(l.Roots)-1], nil
			clear(seen)
			continue
		}
		if line == "[[input]]" {
			if root != nil {
				return bad(i, "[[input]] after [[root]] (`monogres lock` writes the roots last)")
			}
			l.Inputs = append(l.Inputs, Input{})
			in = &l.Inputs[len(l.Inputs)-1]
			clear(seen)
			continue
		}
		if line[0] == '[' {
			return bad(i, "unexpected %s: a lock has only [[input]] and [[root]] tables", strconv.Quote(line))
		}
		k, v, found := strings.Cut(line, " = ")
		if !found {
			return bad(i, "want KEY = VALUE as `monogres lock` writes it, have %s", strconv.Quote(line))
		}
		if seen[k] {
			return bad(i, "key %q set twice", k)
		}
		seen[k] = true
		ok := true
		if root != nil {
			switch k {
			case "name":
				root.Name, ok = unquote(v)
			case "request":
				root.Request, ok = unquote(v)
			case "dropped":
				root.Dropped, ok = unquote(v)
			default:
				return bad(i, "unknown key %q in [[root]]", k)
			}
			if !ok {
				return bad(i, "%s: bad value %s (not as `monogres lock` writes it)", k, v)
			}
			continue
		}
		if in == nil {
			switch k {
			case "version":
				var n int64
				n, ok = canonicalInt(v)
				l.Version = int(n)
			case "manifest":
				l.Manifest, ok = unquote(v)
			case "toolchain":
				l.Toolchain, ok = unquote(v)
			default:
				return bad(i, "unknown key %q", k)
			}
			if !ok {
				return bad(i, "%s: bad value %s", k, v)
			}
			continue
		}
		switch k {
		case "name":
			in.Name, ok = unquote(v)
		case "kind":
			in.Kind, ok = unquote(v)
		case "version":
			in.Version, ok = unquote(v)
		case "arch":
			in.Arch, ok = unquote(v)
		case "sha256":
			in.SHA256, ok = unquote(v)
		case "strip_prefix":
			in.StripPrefix, ok = unquote(v)
		case "apt":
			in.Apt, ok = unquote(v)
		case "size":
			in.Size, ok = canonicalInt(v)
		case "source_date_epoch":
			in.SourceDateEpoch, ok = canonicalInt(v)
		case "roots":
			in.Roots, ok = unquoteList(v)
		case "urls":
			in.URLs = []string{}
			if v == "[]" {
				continue
			}
			if v != "[" {
				return bad(i, "urls: want one URL per line as `monogres lock` writes them")
			}
			start := i
			for i++; i < len(lines) && strings.TrimSuffix(lines[i], "\r") != "]"; i++ {
				u, found := strings.CutPrefix(strings.TrimSuffix(lines[i], "\r"), "  ")
				if found {
					u, found = strings.CutSuffix(u, ",")
				}
				s, ok := unquote(u)
				if !found || !ok {
					return bad(i, "urls: want `  \"URL\",`, have %s", strconv.Quote(lines[i]))
				}
				in.URLs = append(in.URLs, s)
			}
			if i == len(lines) {
				return bad(start, "urls: the array is not closed by a line \"]\"")
			}
			continue
		default:
			return bad(i, "unknown key %q in [[input]]", k)
		}
		if !ok {
			return bad(i, "%s: bad value %s (not as `monogres lock` writes it)", k, v)
		}
	}
	return l, 0, nil
}

// plainText reports whether s is valid UTF-8 without control characters.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// unquoteList decodes an inline array of strings as Encode writes it:
// ["a", "b"].
func unquoteList(v string) ([]string, bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, false
	}
	inner := v[1 : len(v)-1]
	out := []string{}
	for inner != "" {
		end := 1
		for end < len(inner) && inner[end] != '"' {
			if inner[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(inner) {
			return nil, false
		}
		s, ok := unquote(inner[:end+1])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		inner = inner[end+1:]
		if inner != "" {
			if inner, ok = strings.CutPrefix(inner, ", "); !ok || inner == "" {
				return nil, false
			}
		}
	}
	return out, true
}

// canonicalInt parses a decimal integer as Encode writes it.
func canonicalInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && strconv.FormatInt(n, 10) == s
}

// unquote decodes a TOML basic string as tomlString writes it: only \" \\
// and \uXXXX escapes, no raw control characters, valid UTF-8.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	s = s[1 : len(s)-1]
	if !strings.ContainsAny(s, "\\\"") {
		return s, plainText(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c < 0x20 || c == 0x7f:
			return "", false
		case c != '\\':
			b.WriteByte(c)
		case i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case i+5 < len(s) && s[i+1] == 'u':
			r, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				return "", false
			}
			b.WriteRune(rune(r))
			i += 5
		default:
			return "", false
		}
	}
	return b.String(), utf8.ValidString(b.String())
}
