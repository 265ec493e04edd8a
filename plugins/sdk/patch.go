package sdk

import (
	"fmt"
	"strconv"
	"strings"
)

// hunk is one parsed "@@ -a,b +c,d @@" section of a unified diff.
type hunk struct {
	header   string
	oldStart int
	old, new []string // lines including their "\n", if any
}

// ApplyPatch applies the unified-diff hunks in diff to old and returns the
// new content. Each hunk must match exactly (no fuzz); a hunk may be found at
// an offset from its stated line, after the previous hunk. Header lines
// (diff, index, ---, +++) before the first hunk are ignored.
func ApplyPatch(old []byte, diff string) ([]byte, error) {
	hunks, err := parseHunks(diff)
	if err != nil {
		return nil, err
	}
	lines := splitLines(string(old))
	var out []string
	next := 0 // first line of lines not yet copied to out
	for i, h := range hunks {
		// Line numbers refer to the original file, which lines is. A hunk
		// that removes nothing inserts after line oldStart.
		want := h.oldStart - 1
		if len(h.old) == 0 {
			want = h.oldStart
		}
		at := findHunk(lines, h.old, next, want)
		if at < 0 {
			return nil, fmt.Errorf("hunk #%d (%s) does not apply: its context and removed lines are not in the file", i+1, h.header)
		}
		out = append(out, lines[next:at]...)
		out = append(out, h.new...)
		next = at + len(h.old)
	}
	out = append(out, lines[next:]...)
	return []byte(strings.Join(out, "")), nil
}

// findHunk returns where old occurs in lines at or after from, nearest to
// want, or -1.
func findHunk(lines, old []string, from, want int) int {
	match := func(at int) bool {
		if at < from || at+len(old) > len(lines) {
			return false
		}
		for j, l := range old {
			if lines[at+j] != l {
				return false
			}
		}
		return true
	}
	for d := 0; d <= len(lines); d++ {
		if match(want - d) {
			return want - d
		}
		if match(want + d) {
			return want + d
		}
	}
	return -1
}

// splitLines splits s into lines that keep their "\n"; the last line has no
// "\n" if s does not end with one.
func splitLines(s string) []string {
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// parseHunks parses the hunks of a single-file unified diff.
func parseHunks(diff string) ([]hunk, error) {
	if diff == "" {
		return nil, fmt.Errorf("diff is empty")
	}
	text := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	var hunks []hunk
	i := 0
	for i < len(text) && !strings.HasPrefix(text[i], "@@") {
		l := text[i]
		if !(strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || strings.HasPrefix(l, "diff ") || strings.HasPrefix(l, "index ")) {
			return nil, fmt.Errorf("diff line %d: %q is neither a header line nor a hunk header", i+1, l)
		}
		i++
	}
	if i == len(text) {
		return nil, fmt.Errorf("diff has no hunk (no line starting with @@)")
	}
	for i < len(text) {
		l := text[i]
		if strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || strings.HasPrefix(l, "diff ") {
			return nil, fmt.Errorf("diff line %d: a patch covers one file; split multi-file diffs into several patches", i+1)
		}
		oldStart, oldCount, newCount, err := parseHunkHeader(l)
		if err != nil {
			return nil, fmt.Errorf("diff line %d: %v", i+1, err)
		}
		h := hunk{header: hunkHeader(l), oldStart: oldStart}
		i++
		var last *string // the most recent line, for "\ No newline"
		var lastSide byte
		for len(h.old) < oldCount || len(h.new) < newCount || (i < len(text) && strings.HasPrefix(text[i], `\`)) {
			if i >= len(text) {
				return nil, fmt.Errorf("hunk %s ends early: want %d old and %d new lines, got %d and %d", h.header, oldCount, newCount, len(h.old), len(h.new))
			}
			l := text[i]
			i++
			if l == "" { // some tools strip the space of empty context lines
				l = " "
			}
			body := l[1:] + "\n"
			switch l[0] {
			case ' ':
				h.old = append(h.old, body)
				h.new = append(h.new, body)
				last, lastSide = nil, ' '
			case '-':
				h.old = append(h.old, body)
				last, lastSide = &h.old[len(h.old)-1], '-'
			case '+':
				h.new = append(h.new, body)
				last, lastSide = &h.new[len(h.new)-1], '+'
			case '\\':
				switch {
				case lastSide == ' ':
					h.old[len(h.old)-1] = strings.TrimSuffix(h.old[len(h.old)-1], "\n")
					h.new[len(h.new)-1] = strings.TrimSuffix(h.new[len(h.new)-1], "\n")
				case last != nil:
					*last = strings.TrimSuffix(*last, "\n")
				default:
					return nil, fmt.Errorf("diff line %d: %q follows no line", i, l)
				}
			default:
				return nil, fmt.Errorf("diff line %d: %q: hunk lines start with ' ', '-', '+' or '\\'", i, l)
			}
			if len(h.old) > oldCount || len(h.new) > newCount {
				return nil, fmt.Errorf("hunk %s: more lines than its header counts", h.header)
			}
		}
		hunks = append(hunks, h)
	}
	return hunks, nil
}

// hunkHeader returns the "@@ ... @@" part of a hunk header line.
func hunkHeader(l string) string {
	if j := strings.Index(l[2:], "@@"); j >= 0 {
		return l[:j+4]
	}
	return l
}

// parseHunkHeader parses "@@ -a[,b] +c[,d] @@[ section]".
func parseHunkHeader(l string) (oldStart, oldCount, newCount int, err error) {
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, fmt.Errorf("%q is not a hunk header like @@ -1,3 +1,4 @@", l)
	}
	rng := func(s string) (start, count int, err error) {
		a, b, found := strings.Cut(s, ",")
		if start, err = strconv.Atoi(a); err != nil || start < 0 {
			return 0, 0, fmt.Errorf("bad line number in %q", l)
		}
		count = 1
		if found {
			if count, err = strconv.Atoi(b); err != nil || count < 0 {
				return 0, 0, fmt.Errorf("bad line count in %q", l)
			}
		}
		return start, count, nil
	}
	if oldStart, oldCount, err = rng(f[1][1:]); err != nil {
		return 0, 0, 0, err
	}
	_, newCount, err = rng(f[2][1:])
	return oldStart, oldCount, newCount, err
}
