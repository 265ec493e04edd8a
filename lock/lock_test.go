package lock

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	shaA = strings.Repeat("a", 64)
	shaB = strings.Repeat("b", 64)
)

func sample() *Lock {
	return &Lock{
		Version:   FormatVersion,
		Manifest:  "sha256:" + shaA,
		Toolchain: "sha256:" + shaB,
		Inputs: []Input{
			{Name: "deb/amd64/gcc-12", Kind: KindDeb, Version: "12.2.0-14+deb12u1", Arch: "amd64",
				URLs:   []string{"https://deb.debian.org/debian/pool/main/g/gcc-12/gcc-12_12.2.0-14+deb12u1_amd64.deb"},
				SHA256: shaA, Size: 1234, Apt: "binary:gcc-12:amd64=12.2.0-14+deb12u1", Roots: []string{"amd64", "arm \"64\", x"}},
			{Name: "extension/odd/1.0", Kind: KindExtension, Version: "1.0",
				URLs:        []string{"file:///tmp/a \"quoted\" \\ back slash.tar.gz", "https://x/é.tar.gz"},
				SHA256:      shaB,
				StripPrefix: "odd-1.0", SourceDateEpoch: 1700000000},
			{Name: "plugin/gen", Kind: KindPlugin, URLs: nil, SHA256: shaA},
			{Name: "postgres/15", Kind: KindPostgres, Version: "15.18",
				URLs:   []string{"https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2"},
				SHA256: shaB, Size: 23405115, StripPrefix: "postgresql-15.18", SourceDateEpoch: 1778529797,
				Apt: "source:postgresql-15=15.18-0+deb12u1:postgresql-15_15.18.orig.tar.bz2"},
		},
	}
}

const sampleText = `# monogres.lock: every input of this distribution, pinned by sha256.
# Written by ` + "`monogres lock`; check with `monogres lock --check`" + `. Do not edit by hand.
version = 1
manifest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
toolchain = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

[[input]]
name = "deb/amd64/gcc-12"
kind = "deb"
version = "12.2.0-14+deb12u1"
arch = "amd64"
urls = [
  "https://deb.debian.org/debian/pool/main/g/gcc-12/gcc-12_12.2.0-14+deb12u1_amd64.deb",
]
sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
size = 1234
apt = "binary:gcc-12:amd64=12.2.0-14+deb12u1"
roots = ["amd64", "arm \"64\", x"]

[[input]]
name = "extension/odd/1.0"
kind = "extension"
version = "1.0"
urls = [
  "file:///tmp/a \"quoted\" \\ back slash.tar.gz",
  "https://x/é.tar.gz",
]
sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
strip_prefix = "odd-1.0"
source_date_epoch = 1700000000

[[input]]
name = "plugin/gen"
kind = "plugin"
urls = []
sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

[[input]]
name = "postgres/15"
kind = "postgres"
version = "15.18"
urls = [
  "https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2",
]
sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
size = 23405115
strip_prefix = "postgresql-15.18"
source_date_epoch = 1778529797
apt = "source:postgresql-15=15.18-0+deb12u1:postgresql-15_15.18.orig.tar.bz2"
`

func TestEncode(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sampleText, string(b)); d != "" {
		t.Errorf("Encode (-want +got):\n%s", d)
	}
}

func TestRoundTrip(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	l, err := Decode("monogres.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Inputs[2].URLs = []string{} // an empty list decodes as empty, not nil
	if d := cmp.Diff(want, l); d != "" {
		t.Errorf("Decode(Encode(l)) (-want +got):\n%s", d)
	}
	b2, err := Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(b2) != string(b) {
		t.Errorf("Encode(Decode(b)) != b:\n%s", cmp.Diff(string(b), string(b2)))
	}
}

func TestDecodeSorts(t *testing.T) {
	text := "version = 1\nmanifest = \"m\"\n[[input]]\nname = \"b\"\nurls = []\nsha256 = \"" + shaA + "\"\n[[input]]\nname = \"a\"\nurls = []\nsha256 = \"" + shaB + "\"\n"
	l, err := Decode("x.lock", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if l.Inputs[0].Name != "a" || l.Inputs[1].Name != "b" {
		t.Errorf("inputs not sorted: %v", l.Inputs)
	}
	if in, ok := l.Find("b"); !ok || in.SHA256 != shaA {
		t.Errorf("Find(b) = %v, %v", in, ok)
	}
	if _, ok := l.Find("c"); ok {
		t.Error("Find(c) found something")
	}
	var nilLock *Lock
	if _, ok := nilLock.Find("a"); ok {
		t.Error("nil lock found an input")
	}
}

func TestEncodeRejectsUnsorted(t *testing.T) {
	l := sample()
	l.Inputs[0], l.Inputs[1] = l.Inputs[1], l.Inputs[0]
	if _, err := Encode(l); err == nil || err.Error() != `lock: inputs not sorted or duplicated at "deb/amd64/gcc-12"` {
		t.Errorf("Encode(unsorted) error = %v", err)
	}
	l = sample()
	l.Inputs[1].Name = l.Inputs[0].Name
	if _, err := Encode(l); err == nil || err.Error() != `lock: inputs not sorted or duplicated at "deb/amd64/gcc-12"` {
		t.Errorf("Encode(duplicate) error = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	in := func(name, sha string) string {
		return "\n[[input]]\nname = \"" + name + "\"\nurls = []\nsha256 = \"" + sha + "\"\n"
	}
	head := "version = 1\nmanifest = \"sha256:x\"\n"
	hint := " (monogres.lock is written by `monogres lock`; after a bad merge, take one side and run `monogres lock` again)"
	for _, tc := range []struct{ name, text, want string }{
		{"newer format", "version = 2\nmanifest = \"sha256:x\"\n",
			"m.lock: lock format version 2 is newer than this monogres reads (version 1); upgrade monogres"},
		{"no format version", "manifest = \"sha256:x\"\n",
			"m.lock: lock format version 0 is not supported (this monogres reads version 1); delete the file and run `monogres lock` to pin every input again"},
		{"syntax", head + "[[input]\n", "m.lock:3: unexpected \"[[input]\": a lock has only [[input]] and [[root]] tables" + hint},
		{"unknown key", head + in("a", shaA) + "colour = \"red\"\n", `m.lock:8: unknown key "colour" in [[input]]` + hint},
		{"bad sha256", head + in("postgres/15", shaA[:63]+"A"), `m.lock: input[0] "postgres/15": sha256 "` + shaA[:63] + `A" is not 64 lowercase hex digits`},
		{"short sha256", head + in("postgres/15", "abc"), `m.lock: input[0] "postgres/15": sha256 "abc" is not 64 lowercase hex digits`},
		{"missing name", head + in("", shaA), `m.lock: input[0]: missing name`},
		{"duplicate", head + in("a", shaA) + in("a", shaB), `m.lock: input[1] "a": duplicate input`},
		{"negative size", head + in("a", shaA) + "size = -1\n", `m.lock: input[0] "a": negative size`},
		{"escape in a name", head + in("a\\u001b[2J", shaA), `m.lock: input[0]: name: "a\x1b[2J" contains the control character U+001B at byte 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("m.lock", []byte(tc.text))
			if err == nil || err.Error() != tc.want {
				t.Errorf("Decode error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDiffAndString(t *testing.T) {
	old := &Lock{Inputs: []Input{
		{Name: "extension/gone/1.0", Kind: KindExtension, Version: "1.0", SHA256: shaA},
		{Name: "postgres/15", Kind: KindPostgres, Version: "15.18", SHA256: shaA, URLs: []string{"https://a"}},
		{Name: "postgres/17", Kind: KindPostgres, Version: "17.6", SHA256: "2b1c" + shaA[4:]},
		{Name: "postgres/18", Kind: KindPostgres, Version: "18.1", SHA256: shaB},
	}}
	nw := &Lock{Inputs: []Input{
		{Name: "plugin/gen", Kind: KindPlugin, SHA256: shaB},
		{Name: "postgres/15", Kind: KindPostgres, Version: "15.18", SHA256: shaA, URLs: []string{"https://b"}, Size: 9},
		{Name: "postgres/17", Kind: KindPostgres, Version: "17.7", SHA256: "fb2c" + shaB[4:]},
		{Name: "postgres/18", Kind: KindPostgres, Version: "18.1", SHA256: shaB},
		{Name: "zz/new", Kind: KindExtension, Version: "2"},
	}}
	var got []string
	for _, c := range Diff(old, nw) {
		got = append(got, c.String())
	}
	want := []string{
		"• Removed 'extension/gone/1.0': 1.0 (sha256:aaaaaaaaaaaa…)",
		"• Added 'plugin/gen': (sha256:bbbbbbbbbbbb…)",
		"• Updated 'postgres/15': 15.18 (sha256:aaaaaaaaaaaa…) → 15.18 (sha256:aaaaaaaaaaaa…) (urls, size changed)",
		"• Updated 'postgres/17': 17.6 (sha256:2b1caaaaaaaa…) → 17.7 (sha256:fb2cbbbbbbbb…)",
		"• Added 'zz/new': 2 (not yet hashed)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
	if s := Summarize(Diff(old, nw)); s != strings.Join(want, "\n")+"\n" {
		t.Errorf("Summarize = %q", s)
	}
	var added []string
	for _, c := range Diff(nil, old) {
		if c.Kind != Added || c.Old != nil {
			t.Errorf("Diff(nil, l) gave %+v", c)
		}
		added = append(added, c.Name)
	}
	if len(added) != 4 {
		t.Errorf("Diff(nil, l) = %v", added)
	}
	if d := Diff(old, old); len(d) != 0 {
		t.Errorf("Diff(l, l) = %v", d)
	}
}
