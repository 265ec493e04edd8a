package termsafe

import (
	"strings"
	"testing"
)

func TestUnsafe(t *testing.T) {
	bad := []string{
		"pg\x1b[2J",           // clear screen
		"1.0\x1b]0;pwned\x07", // set window title
		"ext\rfake",           // carriage return overwrites the line
		"a\u009bb",            // C1 CSI
		"abc\u202efdp.exe",    // right-to-left override
		"x\u200by",            // zero-width space
		"v\x7f",               // DEL
		"bad\xffutf8",         // invalid UTF-8
		"tab\tname",
	}
	for _, s := range bad {
		if Clean(s) || Check(s) == nil {
			t.Errorf("%q accepted", s)
		}
		if e := Escape(s); !Clean(e) || !strings.Contains(Check(s).Error(), "U+") && !strings.Contains(Check(s).Error(), "UTF-8") {
			t.Errorf("Escape(%q) = %q; Check: %v", s, e, Check(s))
		}
	}
	for _, s := range []string{"pg_similarity", "1.0-6+deb12u1", "postgres~15.18~regular~amd64", "Dœner-ü", "日本語", ""} {
		if !Clean(s) || Check(s) != nil || Escape(s) != s {
			t.Errorf("%q rejected", s)
		}
	}
	if got := Escape("a\x1b[31mb"); got != `a\x1b[31mb` {
		t.Errorf("Escape = %q", got)
	}
}

func TestEscapeTextAndWriter(t *testing.T) {
	in := "line one\n\tindented \x1b]0;pwned\x07\x1b[2J ü \u009b31m 日本\n"
	want := "line one\n\tindented \\x1b]0;pwned\\a\\x1b[2J ü \\u009b31m 日本\n"
	if got := EscapeText(in); got != want {
		t.Fatalf("EscapeText = %q, want %q", got, want)
	}
	// Byte by byte: multi-byte characters (ü, U+009B, 日) split across
	// writes come out whole, not as invalid UTF-8.
	var b strings.Builder
	w := &Writer{W: &b}
	for i := range len(in) {
		if n, err := w.Write([]byte{in[i]}); n != 1 || err != nil {
			t.Fatal(n, err)
		}
	}
	w.Flush()
	if b.String() != want {
		t.Fatalf("Writer wrote %q, want %q", b.String(), want)
	}
	// A stream ending inside a character: the held byte is flushed, escaped.
	b.Reset()
	w = &Writer{W: &b}
	w.Write([]byte("a\xe6\x97"))
	if b.String() != "a" {
		t.Fatalf("incomplete character not held: %q", b.String())
	}
	w.Flush()
	if !Clean(strings.ReplaceAll(b.String(), "\n", "")) || !strings.HasPrefix(b.String(), `a\ufffd`) {
		t.Fatalf("flushed %q", b.String())
	}
}
