package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/termsafe"
)

// nestedBomb is issue 10's hostile manifest: 20,000 nested inline tables
// in about 100 KB, which took the TOML decoder over a minute and gigabytes.
func nestedBomb(depth int) string {
	return minimal + "x = " + strings.Repeat("{a=", depth) + "1" + strings.Repeat("}", depth) + "\n"
}

func TestNestedTOMLBombRejectedFast(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"inline tables", nestedBomb(20000)},
		{"arrays", minimal + "y = " + strings.Repeat("[", 50000) + strings.Repeat("]", 50000) + "\n"},
		{"arrays of inline tables", minimal + "z = " + strings.Repeat("[{a=", 20000) + "1" + strings.Repeat("}]", 20000) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) > 200<<10 {
				t.Fatalf("bomb is %d bytes", len(tc.data))
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { _, err := Parse("bomb.toml", []byte(tc.data)); done <- err }()
			select {
			case err := <-done:
				if took := time.Since(start); took > time.Second {
					t.Errorf("rejected after %v, want under 1s", took)
				}
				line := strings.Count(minimal, "\n") + 1
				want := fmt.Sprintf("bomb.toml:%d:", line)
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "nested deeper than") {
					t.Fatalf("err = %v, want %s… nested deeper than …", err, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Parse still running after 5s: the bomb was decoded")
			}
		})
	}
}

// TestDepthBoundIsLinear: a wide input under the bound (30 KB of values
// nested MaxDepth-1 deep) decodes in a few tens of ms of CPU; the limit is
// loose because the machine running the tests may be busy.
func TestDepthBoundIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "[deep]\n")
	d := MaxDepth - 1
	for i := 0; b.Len() < 30<<10; i++ {
		fmt.Fprintf(&b, "k%d = %s1%s\n", i, strings.Repeat("{a=", d), strings.Repeat("}", d))
	}
	start := time.Now()
	_, err := Parse("deep.toml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), `unknown key "deep"`) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("30 KB nested %d deep took %v", d, took)
	}
	// Brackets inside strings and comments are not nesting.
	s := minimal + "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n" +
		`[[extension]]` + "\nname = \"e\"\nversions = [\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\", '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', \"\"\"\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\"\"]\nbuild = \"contrib\"\n"
	if err := checkShape("s.toml", []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// TestControlCharactersRejected: names, versions and every other string
// from the manifest are printed (plans, lock diffs, the TUI); terminal
// escapes in them are refused with the field named.
func TestControlCharactersRejected(t *testing.T) {
	for _, tc := range []struct{ toml, field string }{
		{`[[extension]]` + "\nname = \"pg\\u001b[2Jx\"\nversions = [\"1\"]\nbuild = \"contrib\"\n", "extension[0].name"},
		{`[[extension]]` + "\nname = \"pg\"\nversions = [\"1.0\\u001b]0;owned\\u0007\"]\nbuild = \"contrib\"\n", "extension[0].versions[0]"},
		{`[[extension]]` + "\nname = \"pg\\u202egpj.exe\"\nversions = [\"1\"]\nbuild = \"contrib\"\n", "extension[0].name"},
		{`[[plugin]]` + "\nname = \"p\\rq\"\nurl = \"https://x/p.wasm\"\nsha256 = \"" + strings.Repeat("1", 64) + "\"\n", "plugin[0].name"},
		{"[toolchain]\npackages = [\"gcc\\u009b31m\"]\n", "toolchain.packages[0]"},
		{"[[postgres.source]]\nname = \"s\"\nurls = [\"https://x/\\u001b[8m\"]\n", "postgres.source[0].urls[0]"},
		// An embedded struct's keys (ExtensionSettings) sit in [[extension]].
		{`[[extension]]` + "\nname = \"pg\"\nversions = [\"1\"]\nbuild = \"contrib\"\nconf = [\"a = \\u001b[2J\"]\n", "extension[0].conf[0]"},
	} {
		_, err := Parse("m.toml", []byte(minimal+tc.toml))
		if err == nil || !strings.HasPrefix(err.Error(), "m.toml: "+tc.field+": ") || !strings.Contains(err.Error(), "control character U+") {
			t.Errorf("%s: err = %v", tc.field, err)
		}
		if err != nil && !termsafe.Clean(err.Error()) {
			t.Errorf("%s: the error does not escape the value: %q", tc.field, err)
		}
	}
}

// TestParseFull: a manifest using every field decodes, and bad values of
// typed fields are refused.
func TestParseFull(t *testing.T) {
	m, err := Parse("m.toml", []byte(fullManifest))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Extensions) != 2 || len(m.Plugins) != 1 || m.Toolchain.Target["arm64"].Packages[0] != "gcc-aarch64-linux-gnu" || m.Mirrors[0].To != "file:///m/" {
		t.Errorf("decoded %+v", m)
	}
	for _, edit := range [][2]string{
		{`build = "plugin:gen"`, `build = "scons"`},
		{`sha256 = "2222222222222222222222222222222222222222222222222222222222222222"`, `sha256 = "22"`},
		{`sha256 = "1111111111111111111111111111111111111111111111111111111111111111"`, `sha256 = "X"`},
		{`sha256 = "3333333333333333333333333333333333333333333333333333333333333333"`, `sha256 = ""`},
		{`unsupported = ["llvm", "plperl"]`, `unsupported = ["llvm", "perl"]`},
		{`injection_points = ">=18"`, `injection_points = ">=x"`},
	} {
		s := strings.Replace(fullManifest, edit[0], edit[1], 1)
		if s == fullManifest {
			t.Fatalf("edit %q did nothing", edit[0])
		}
		if _, err := Parse("m.toml", []byte(s)); err == nil {
			t.Errorf("Parse accepted %s", edit[1])
		}
	}
}

const fullManifest = `
default = ["postgres~15.18~*~amd64"]
distdirs = ["/srv/distfiles"]

[postgres]
versions = ["15.18", "17.*", ">=16.2,<17"]
versions_all = ["18.*"]
option_sets = ["barebones", "debug"]
targets = ["amd64", "arm64"]
[[postgres.source]]
name = "mine"
urls = ["https://a/{version}", 'https://b/{major}']
strip_prefix = "pg-{version}"
apt = "source:postgresql-{major}={version}-1:x"
[[postgres.release]]
version = "14.20"
source = "mine"
sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
size = 12
tag = "T"
apt = "a"
source_date_epoch = 1700000000

[target.arm64]
unsupported = ["llvm", "plperl"]
[target.amd64]
unsupported = []

[options]
injection_points = ">=18"

[[extension]]
name = "e"
versions = ["1.0", "2"]
build = "plugin:gen"
postgres = ">=15"
packages = ["libfoo-dev"]
[[extension.source]]
urls = ["https://e/{name}-{version}.tar.gz"]
strip_prefix = "{name}-{version}"
[[extension.release]]
version = "1.0"
sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
[[extension]]
name = "c"
versions = ["1"]
build = "contrib"

[toolchain]
archive = "https://deb.debian.org/debian"
suite = "bookworm"
components = ["main", "contrib"]
packages = []
[toolchain.target.arm64]
packages = ["gcc-aarch64-linux-gnu"]

[[plugin]]
name = "gen"
url = "https://p/gen.wasm"
sha256 = "3333333333333333333333333333333333333333333333333333333333333333"

[[mirror]]
from = "https://a/"
to = "file:///m/"
`

// TestShapePositions: checkShape counts lines through every kind of
// string (escaped quotes, a line-ending backslash, multi-line strings
// closed with extra quotes, literal strings) and comments, so the depth
// error names the line and column of the bracket that goes too deep.
func TestShapePositions(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	lines := []string{
		`a = "x \" [[[[[[[[[[[[[[[[[[[[ \\" # [[[[[[[[[[[[[[[[[[[[`, // line 3
		`b = """`,                                // 4
		`[[[[[[[[[[[[[[[[[[[[ \`,                 // 5: a line-ending backslash
		`  \""" [[[[[[[[[[[[[[[[[[[[`,            // 6: an escaped quote
		`""""" # two quotes, then the delimiter`, // 7
		`c = '''`,                                // 8
		`[[[[[[[[[[[[[[[[[[[[`,                   // 9
		`''''`,                                   // 10
		`d = '[[[[[[[[[[[[[[[[[[[[\'`,            // 11: no escapes in literal strings
	}
	ok := minimal + strings.Join(lines, "\n") + "\n"
	if err := checkShape("s.toml", []byte(ok)); err != nil {
		t.Fatalf("brackets in strings and comments: %v", err)
	}
	if _, err := Parse("s.toml", []byte(ok)); err == nil || !strings.Contains(err.Error(), `unknown key "postgres.a"`) {
		t.Fatalf("the decoder does not read the strings the same way: %v", err)
	}
	err := checkShape("s.toml", []byte(ok+"e = "+deep+"\n")) // line 12
	want := fmt.Sprintf("s.toml:12:%d: arrays and inline tables nested deeper than %d levels", len("e = ")+MaxDepth+1, MaxDepth)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
