package lock

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeCanonical: the fast path reads what Encode writes, and gives the
// same Lock as the TOML library.
func TestDecodeCanonical(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := decodeCanonical(b)
	if !ok {
		t.Fatal("the fast path rejected Encode's output")
	}
	slow, err := decodeTOML("x", b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(slow, fast); d != "" {
		t.Errorf("fast and TOML decoding differ (-toml +fast):\n%s", d)
	}
}

// TestDecodeFallback: other spellings of the same lock take the TOML path
// and decode the same; errors are still found.
func TestDecodeFallback(t *testing.T) {
	b, _ := Encode(sample())
	want, err := Decode("x", b)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"no spaces":      func(s string) string { return strings.Replace(s, `name = "plugin/gen"`, `name="plugin/gen"`, 1) },
		"literal string": func(s string) string { return strings.Replace(s, `kind = "plugin"`, `kind = 'plugin'`, 1) },
		"inline urls": func(s string) string {
			u := "https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2"
			return strings.Replace(s, "urls = [\n  \""+u+"\",\n]", `urls = ["`+u+`"]`, 1)
		},
		"comment": func(s string) string {
			return strings.Replace(s, "[[input]]\nname = \"plugin/gen\"", "[[input]] # the plugin\nname = \"plugin/gen\"", 1)
		},
		"crlf":            func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
		"no final eol":    func(s string) string { return strings.TrimSuffix(s, "\n") },
		"raw tab":         func(s string) string { return strings.Replace(s, `back\u0009slash`, "back\tslash", 1) },
		"escaped quote u": func(s string) string { return strings.Replace(s, `\"quoted\"`, `\u0022quoted\u0022`, 1) },
		"size underscore": func(s string) string { return strings.Replace(s, "size = 23405115", "size = 23_405_115", 1) },
		"roots spacing":   func(s string) string { return strings.Replace(s, `roots = ["amd64", `, `roots = [ "amd64",`, 1) },
	} {
		s := edit(string(b))
		if s == string(b) {
			t.Fatalf("%s: edit did nothing", name)
		}
		got, err := Decode("x", []byte(s))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: (-want +got)\n%s", name, d)
		}
	}
	for name, text := range map[string]string{
		"duplicate key":       strings.Replace(string(b), "kind = \"plugin\"\n", "kind = \"plugin\"\nkind = \"plugin\"\n", 1),
		"unterminated urls":   string(b[:strings.LastIndex(string(b), "]")]),
		"bad escape":          strings.Replace(string(b), `\"quoted\"`, `\q`, 1),
		"leading zero":        strings.Replace(string(b), "size = 1234", "size = 01234", 1),
		"unknown input key":   strings.Replace(string(b), "kind = \"plugin\"\n", "kind = \"plugin\"\ncolour = \"red\"\n", 1),
		"unknown top key":     strings.Replace(string(b), "version = 1\n", "version = 1\nformat = 1\n", 1),
		"top key after input": string(b) + "toolchain = 1\n",
		"roots unterminated":  strings.Replace(string(b), `roots = ["amd64", "arm \"64\", x"]`, `roots = ["amd64", "arm`, 1),
	} {
		if _, ok := decodeCanonical([]byte(text)); ok {
			t.Errorf("%s: the fast path accepted it", name)
		}
		if _, err := Decode("x", []byte(text)); err == nil {
			t.Errorf("%s: Decode accepted it", name)
		}
	}
}

// FuzzDecodeCanonical: whatever the fast path accepts, the TOML library
// decodes to the same Lock.
func FuzzDecodeCanonical(f *testing.F) {
	b, _ := Encode(sample())
	f.Add(b)
	f.Add([]byte("version = 1\nmanifest = \"m\"\n\n[[input]]\nname = \"a\"\nurls = []\nsha256 = \"x\"\n"))
	f.Add([]byte("version = 1\n[[input]]\nurls = [\n  \"\\u00e9\\\\\",\n]\n"))
	f.Add([]byte("version = 1\n[[input]]\nroots = [\"a\", \"b\\\"\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeCanonical(data)
		if !ok {
			return
		}
		slow, err := decodeTOML("x", data)
		if err != nil {
			t.Fatalf("fast path accepted what TOML rejects (%v):\n%q", err, data)
		}
		if d := cmp.Diff(slow, fast); d != "" {
			t.Fatalf("fast and TOML decoding differ (-toml +fast):\n%s\n%q", d, data)
		}
	})
}
