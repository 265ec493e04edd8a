// Package termsafe keeps terminal control out of names and versions: a
// string from a manifest, a lock or a plugin must not be able to move the
// cursor, retitle the window, hide text or reorder it when printed.
package termsafe

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r may not appear in a name or version: C0 and C1
// control characters (ESC, CSI, BEL, CR, ...), DEL, and the Unicode bidi
// and invisible formatting characters used to disguise text.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x200b && r <= 0x200f, // zero-width space … right-to-left mark
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0xfeff, r == utf8.RuneError:
		return true
	}
	return false
}

// Check returns an error naming the first unsafe character of s (or invalid
// UTF-8), or nil. The error quotes s with every such character escaped.
func Check(s string) error {
	for i, r := range s {
		if Unsafe(r) {
			if r == utf8.RuneError {
				return fmt.Errorf("%s is not valid UTF-8 (byte %d)", strconv.QuoteToASCII(s), i)
			}
			return fmt.Errorf("%s contains the control character U+%04X at byte %d", strconv.QuoteToASCII(s), r, i)
		}
	}
	return nil
}

// Clean reports whether s has no unsafe character. It is the fast path:
// plain ASCII is checked without decoding.
func Clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			return Check(s[i:]) == nil
		}
	}
	return true
}

// Escape returns s with every unsafe character written as a Go escape
// (\x1b, \u202e), for printing text that was not checked.
func Escape(s string) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if Unsafe(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
