package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

var cmpManifest = gocmp.Options{gocmp.AllowUnexported(Version{}), gocmp.Comparer(func(a, b Spec) bool { return a.String() == b.String() })}

// fastSeeds are manifests the fast decoder must decode exactly as
// BurntSushi/toml does: the repository's own, the CLI's golden ones, and a
// manifest using every field.
func fastSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{"full": []byte(fullManifest), "minimal": []byte(minimal)}
	files, _ := filepath.Glob("../../monogres.toml")
	more, _ := filepath.Glob("../cli/testdata/golden/*.toml")
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds[f] = b
	}
	return seeds
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

func TestDecodeFastMatchesStrict(t *testing.T) {
	for name, data := range fastSeeds(t) {
		fast, ok := decodeFast(data)
		if !ok {
			t.Errorf("%s: the fast decoder gave up", name)
			continue
		}
		strict, err := decodeStrict(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := gocmp.Diff(strict, fast, cmpManifest); d != "" {
			t.Errorf("%s: fast and strict decoding differ (-strict +fast):\n%s", name, d)
		}
	}
}

// TestDecodeFastGivesUp: every value a typed field rejects sends Parse to
// the strict decoder (TestParseErrors pins the resulting messages).
func TestDecodeFastGivesUp(t *testing.T) {
	for _, bad := range []string{
		`option_sets = ["fancy"]`, `targets = ["riscv64"]`, `option_sets = "regular"`, `version = ["15"]`,
	} {
		if _, ok := decodeFast([]byte(strings.Replace(minimal, "[postgres]\n", "[postgres]\n"+bad+"\n", 1))); ok {
			t.Errorf("fast decoder accepted %s", bad)
		}
	}
	for _, edit := range [][2]string{
		{`build = "plugin:gen"`, `build = "cmake"`},
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
		if _, ok := decodeFast([]byte(s)); ok {
			t.Errorf("fast decoder accepted %s", edit[1])
		}
		if _, err := Parse("m.toml", []byte(s)); err == nil {
			t.Errorf("Parse accepted %s", edit[1])
		}
	}
}

// FuzzDecodeFast: whatever the fast decoder accepts, BurntSushi/toml decodes
// to the same Manifest.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		if !ok {
			return
		}
		strict, err := decodeStrict("m.toml", data)
		if err != nil {
			t.Fatalf("fast accepted what strict rejects (%v):\n%q", err, data)
		}
		if d := gocmp.Diff(strict, fast, cmpManifest); d != "" {
			t.Fatalf("fast and strict decoding differ (-strict +fast):\n%s\n%q", d, data)
		}
	})
}
