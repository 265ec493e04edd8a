package lock

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeCanonical: the fast path reads what Encode writes, and gives the
// same Lock as the TOML library.
func TestDecodeCanonical(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	fast, _, err := decodeCanonical(b)
	if err != nil {
		t.Fatalf("the canonical decoder rejected Encode's output: %v", err)
	}
	slow, err := decodeTOML("x", b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(slow, fast); d != "" {
		t.Errorf("fast and TOML decoding differ (-toml +fast):\n%s", d)
	}
}

// TestDecodeOtherSpellings: the canonical decoder is the only one. CRLF
// line ends and a missing final newline are read; any other TOML spelling
// of the same lock is an error naming its line.
func TestDecodeOtherSpellings(t *testing.T) {
	b, _ := Encode(sample())
	want, err := Decode("x", b)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"crlf":         func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
		"no final eol": func(s string) string { return strings.TrimSuffix(s, "\n") },
	} {
		got, err := Decode("x", []byte(edit(string(b))))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: (-want +got)\n%s", name, d)
		}
	}
	for name, text := range map[string]string{
		"no spaces":           strings.Replace(string(b), `name = "plugin/gen"`, `name="plugin/gen"`, 1),
		"literal string":      strings.Replace(string(b), `kind = "plugin"`, `kind = 'plugin'`, 1),
		"comment":             strings.Replace(string(b), "[[input]]\nname = \"plugin/gen\"", "[[input]] # the plugin\nname = \"plugin/gen\"", 1),
		"raw tab":             strings.Replace(string(b), `back slash`, "back\tslash", 1),
		"size underscore":     strings.Replace(string(b), "size = 23405115", "size = 23_405_115", 1),
		"duplicate key":       strings.Replace(string(b), "kind = \"plugin\"\n", "kind = \"plugin\"\nkind = \"plugin\"\n", 1),
		"unterminated urls":   string(b[:strings.LastIndex(string(b), "]")]),
		"bad escape":          strings.Replace(string(b), `\"quoted\"`, `\q`, 1),
		"leading zero":        strings.Replace(string(b), "size = 1234", "size = 01234", 1),
		"unknown input key":   strings.Replace(string(b), "kind = \"plugin\"\n", "kind = \"plugin\"\ncolour = \"red\"\n", 1),
		"unknown top key":     strings.Replace(string(b), "version = 1\n", "version = 1\nformat = 1\n", 1),
		"top key after input": string(b) + "toolchain = 1\n",
		"roots unterminated":  strings.Replace(string(b), `roots = ["amd64", "arm \"64\", x"]`, `roots = ["amd64", "arm`, 1),
	} {
		if text == string(b) {
			t.Fatalf("%s: edit did nothing", name)
		}
		_, err := Decode("x", []byte(text))
		if err == nil || !regexp.MustCompile(`^x:[1-9][0-9]*: `).MatchString(err.Error()) {
			t.Errorf("%s: err = %v, want x:LINE: …", name, err)
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
		fast, _, err := decodeCanonical(data)
		if err != nil {
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

// decodeTOML decodes a lock with the TOML library: the reference the
// canonical decoder is compared with.
func decodeTOML(file string, data []byte) (*Lock, error) {
	var l Lock
	md, err := toml.Decode(string(data), &l)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q", file, und[0].String())
	}
	return &l, nil
}
