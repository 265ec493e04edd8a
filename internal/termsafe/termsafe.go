// Package termsafe keeps terminal control out of names and versions: a
// string from a manifest, a lock or a plugin must not be able to move the
// cursor, retitle the window, hide text or reorder it when printed.
package termsafe

import (
	"fmt"
	"io"
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
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for multi-line text (a plugin's stderr, a log): it
// keeps newlines and tabs.
func EscapeText(s string) string { return escape(s, true) }

func escape(s string, text bool) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if Unsafe(r) && !(text && (r == '\n' || r == '\t')) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Writer passes text to W as EscapeText would print it, for streams from
// untrusted programs shown on a terminal. A character split across writes
// is held until its last byte arrives; Flush writes what is held.
type Writer struct {
	W       io.Writer
	pending []byte
}

// Write escapes p (and any character held from the last write) to W.
func (w *Writer) Write(p []byte) (int, error) {
	b := append(w.pending, p...)
	w.pending = nil
	// Hold back a trailing incomplete UTF-8 sequence (at most 3 bytes).
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			break
		}
		if c >= 0xc0 { // a leading byte: complete only if i bytes suffice
			if !utf8.FullRune(b[len(b)-i:]) {
				w.pending = append([]byte(nil), b[len(b)-i:]...)
				b = b[:len(b)-i]
			}
			break
		}
	}
	if _, err := io.WriteString(w.W, EscapeText(string(b))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held incomplete character, escaped as invalid UTF-8.
func (w *Writer) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	b := w.pending
	w.pending = nil
	_, err := io.WriteString(w.W, EscapeText(string(b)))
	return err
}
