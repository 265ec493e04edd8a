package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const minimal = "[postgres]\nversions = [\"15.18\"]\n"

func TestParseDefaults(t *testing.T) {
	m, err := Parse("monogres.toml", []byte(minimal+`
[[extension]]
name = "hstore"
versions = ["1.8"]
build = "contrib"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Postgres.OptionSets, OptionSets) {
		t.Errorf("default option sets = %v, want all %v", m.Postgres.OptionSets, OptionSets)
	}
	if !slices.Equal(m.Postgres.Targets, []Arch{"amd64"}) {
		t.Errorf("default targets = %v, want [amd64]", m.Postgres.Targets)
	}
	if got := m.Extensions[0].Postgres.String(); got != "*" {
		t.Errorf("default extension postgres spec = %q, want *", got)
	}
	if m.File != "monogres.toml" || !strings.HasPrefix(m.Digest(), "sha256:") || len(m.Digest()) != 71 {
		t.Errorf("File = %q, Digest = %q", m.File, m.Digest())
	}
	if m.Index == nil || len(m.Index.Releases) == 0 {
		t.Fatal("no index")
	}
}

func TestDigestIgnoresFormatting(t *testing.T) {
	a, err := Parse("a.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.toml", []byte("# a comment\n\n[postgres]\n  versions = [ '15.18' ]   # inline\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("c.toml", []byte("[postgres]\nversions = [\"15.17\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest() != b.Digest() {
		t.Errorf("comments and layout changed the digest: %s vs %s", a.Digest(), b.Digest())
	}
	if a.Digest() == c.Digest() {
		t.Errorf("a different version kept the digest %s", a.Digest())
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(p)
	if err != nil || m.File != p {
		t.Fatalf("Load = %v, %v", m, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("Load(missing) error = %v, want one naming the file", err)
	}
}

const sha = "1111111111111111111111111111111111111111111111111111111111111111"

// TestParseErrors pins every error message, with its file:line:col or field path.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"malformed table", "[postgres\nversions = [\"15.18\"]\n",
			`m.toml:1:10: expected '.' or ']' to end table name, but got '\n' instead`},
		{"missing value", "[postgres]\nversions =\n",
			`m.toml:2:11: postgres.versions: expected value but found '\n' instead`},
		{"unterminated string", "[postgres]\nversions = [\"15.18]\n",
			`m.toml:2:20: postgres.versions: strings cannot contain newlines`},
		{"duplicate key", minimal + "versions = [\"16.*\"]\n",
			`m.toml:3:1: postgres.versions: Key 'postgres.versions' has already been defined.`},
		{"unknown top key", minimal + "[postgress]\nx = 1\n",
			`m.toml:3:1: unknown key "postgress"`},
		{"unknown nested key", minimal + "option_set = [\"regular\"]\n",
			`m.toml:3:1: unknown key "postgres.option_set"`},
		{"unknown extension key", minimal + "[[extension]]\nname = \"x\"\nversion = [\"1\"]\n",
			`m.toml:5:1: unknown key "extension.version"`},
		{"wrong type", "[postgres]\nversions = \"15.18\"\n",
			`m.toml:2:1: postgres.versions: incompatible types: TOML value has type string; destination has type slice`},
		{"bad spec", "[postgres]\nversions = [\"15.18\", \"seventeen\"]\n",
			`m.toml:2:22: postgres.versions: invalid version spec "seventeen": want 15.18, 17.*, or >=16.2,<17`},
		{"unknown option set", minimal + "option_sets = [\"regular\", \"fancy\"]\n",
			`m.toml:3:27: postgres.option_sets: unknown option set "fancy" (known: barebones, minimal, regular, full, debug)`},
		{"unknown arch", minimal + "targets = [\"amd64\", \"riscv64\"]\n",
			`m.toml:3:21: postgres.targets: unknown arch "riscv64" (known: amd64, arm64)`},
		{"unknown target table", minimal + "[target.riscv64]\nunsupported = [\"llvm\"]\n",
			`m.toml: target.riscv64: unknown arch "riscv64" (known: amd64, arm64)`},
		{"unknown option", minimal + "[target.arm64]\nunsupported = [\"llvm\", \"jit\"]\n",
			`m.toml:4:24: target.arm64.unsupported: unknown option "jit"`},
		{"unknown option constraint", minimal + "[options]\nturbo = \">=17\"\n",
			`m.toml: options.turbo: unknown option "turbo"`},
		{"bad plugin sha256", minimal + "[[plugin]]\nname = \"p\"\nurl = \"https://x/p.wasm\"\nsha256 = \"ABCDEF\"\n",
			`m.toml:6:10: plugin.sha256: bad sha256 "ABCDEF": want 64 lowercase hex digits`},
		{"bad release sha256 in second table", minimal + `
[[extension]]
name = "a"
versions = ["1.0"]
build = "pgxs"
[[extension.source]]
urls = ["https://x/a-{version}.tar.gz"]
[[extension.release]]
version = "1.0"
sha256 = "` + strings.ToUpper(sha[:60]) + `"
[[extension]]
name = "b"
versions = ["1.0"]
build = "pgxs"
`, `m.toml:12:10: extension.release.sha256: bad sha256 "` + strings.ToUpper(sha[:60]) + `": want 64 lowercase hex digits`},
		{"bad build kind", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"scons\"\n",
			`m.toml:6:9: extension.build: unknown build kind "scons" (known: contrib, pgxs, configure, cmake, make, meson, plugin:NAME)`},
		{"empty plugin build kind", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"plugin:\"\n",
			`m.toml:6:9: extension.build: unknown build kind "plugin:" (known: contrib, pgxs, configure, cmake, make, meson, plugin:NAME)`},

		// Cross-field rules name the field path.
		{"no versions", "[postgres]\noption_sets = [\"regular\"]\n",
			`m.toml: postgres.versions: at least one version or spec is required`},
		{"two specs one major", "[postgres]\nversions = [\"17.*\", \"17.2\"]\n",
			`m.toml: postgres.versions[1] "17.2": major 17 is already selected by postgres.versions[0] "17.*"; list several minors under postgres.versions_all`},
		{"source without name", minimal + "[[postgres.source]]\nurls = [\"https://x\"]\n",
			`m.toml:3: postgres.source[0]: name is required`},
		{"source without urls", minimal + "[[postgres.source]]\nname = \"s\"\n",
			`m.toml:3: postgres.source[0] "s": urls: at least one URL is required`},
		{"release bad version", minimal + "[[postgres.release]]\nversion = \"19\"\nsha256 = \"" + sha + "\"\n",
			`m.toml:3: postgres.release[0]: version: invalid Postgres version "19": want MAJOR.MINOR like 15.18`},
		{"release without sha256", minimal + "[[postgres.release]]\nversion = \"19.0\"\n",
			`m.toml:3: postgres.release[0] "19.0": sha256 is required`},
		{"release unknown source", minimal + "[[postgres.release]]\nversion = \"19.0\"\nsource = \"cvs\"\nsha256 = \"" + sha + "\"\n",
			`m.toml: postgres.release[0] "19.0": source "cvs" is not defined`},
		{"plugin without url", minimal + "[[plugin]]\nname = \"p\"\nsha256 = \"" + sha + "\"\n",
			`m.toml:3: plugin[0] "p": url (or path, for a local plugin) is required`},
		{"plugin with path and url", minimal + "[[plugin]]\nname = \"p\"\npath = \"p.wasm\"\nurl = \"https://x\"\n",
			`m.toml:3: plugin[0] "p": path is a local plugin that monogres lock pins: give either path, or url and sha256`},
		{"params without plugin", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"contrib\"\nparams = { x = \"1\" }\n",
			`m.toml:3: extension[0] "a": params are passed to a build plugin, but build is "contrib" (not plugin:NAME)`},
		{"plugin without sha256", minimal + "[[plugin]]\nname = \"p\"\nurl = \"https://x\"\n",
			"m.toml:3: plugin[0] \"p\": sha256 is required (build the plugin with `monogres plugin build DIR --pin p`, or use path = for a local file)"},
		{"duplicate plugin", minimal + "[[plugin]]\nname = \"p\"\nurl = \"https://x\"\nsha256 = \"" + sha + "\"\n[[plugin]]\nname = \"p\"\nurl = \"https://y\"\nsha256 = \"" + sha + "\"\n",
			`m.toml:7: plugin[1] "p": duplicate plugin name`},
		{"extension without name", minimal + "[[extension]]\nversions = [\"1\"]\nbuild = \"contrib\"\n",
			`m.toml:3: extension[0]: name is required`},
		{"duplicate extension", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"contrib\"\n[[extension]]\nname = \"a\"\nversions = [\"2\"]\nbuild = \"contrib\"\n",
			`m.toml:7: extension[1] "a": duplicate extension name`},
		{"extension without versions", minimal + "[[extension]]\nname = \"a\"\nbuild = \"contrib\"\n",
			`m.toml:3: extension[0] "a": versions: at least one version is required`},
		{"extension name with separator", minimal + "[[extension]]\nname = \"a~b\"\nversions = [\"1\"]\nbuild = \"contrib\"\n",
			`m.toml:3: extension[0] "a~b": name may not contain '~', '/' or spaces (they separate the parts of cell and input names)`},
		{"extension version with slash", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\", \"2/3\"]\nbuild = \"contrib\"\n",
			`m.toml:3: extension[0] "a": versions[1] "2/3": a version may not be empty or contain '~', '/' or spaces`},
		{"extension version twice", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1.0\", \"2\", \"1.0\"]\nbuild = \"contrib\"\n",
			`m.toml:3: extension[0] "a": versions[2] "1.0" is listed twice`},
		{"extension without build", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\n",
			`m.toml:3: extension[0] "a": build is required (contrib, pgxs, configure, cmake, make, meson or plugin:NAME)`},
		{"extension undeclared plugin", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"plugin:gen\"\n",
			`m.toml:3: extension[0] "a": build: plugin "gen" is not declared in any [[plugin]]`},
		{"pgxs without source", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"pgxs\"\n",
			`m.toml:3: extension[0] "a": source: at least one [[extension.source]] is required for build "pgxs"`},
		{"bad extension postgres spec", minimal + "[[extension]]\nname = \"a\"\nversions = [\"1\"]\nbuild = \"contrib\"\npostgres = \">=x\"\n",
			`m.toml:7:12: extension.postgres: invalid version spec ">=x": invalid Postgres version "x.0": "x" is not a number`},
		{"postgres build kind", minimal + "build = \"pgxs\"\n",
			`m.toml:3: postgres.build "pgxs": a Postgres cell builds with its built-in recipe (leave build out) or a plugin, "plugin:NAME"`},
		{"postgres undeclared plugin", minimal + "build = \"plugin:pg\"\n",
			`m.toml:3: postgres.build: plugin "pg" is not declared in any [[plugin]]`},
		{"half a mirror", minimal + "[[mirror]]\nfrom = \"https://a/\"\n",
			`m.toml:3: mirror[0]: from and to are both required`},
		{"toolchain target unknown", minimal + "[toolchain.target.arm46]\npackages = [\"gcc-aarch64-linux-gnu\"]\n",
			`m.toml: toolchain.target.arm46: unknown arch "arm46" (known: amd64, arm64)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.toml", []byte(tc.toml))
			if err == nil {
				t.Fatalf("Parse succeeded, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse error:\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	m, err := Parse("m.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	x := m.Index
	// The one release tarball in the index, with what monogres derived from it.
	r, ok := x.Lookup(MustVersion("15.18"))
	want := Release{Version: "15.18", Source: "tarball",
		SHA256: "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4", Size: 23405115,
		Apt: "source:postgresql-15=15.18-0+deb12u1:postgresql-15_15.18.orig.tar.bz2", SourceDateEpoch: 1778529797}
	if !ok || r != want {
		t.Errorf("Lookup(15.18) = %+v, %v; want %+v", r, ok, want)
	}
	r, ok = x.Lookup(MustVersion("17.7"))
	if !ok || r.Source != "github" || r.Tag != "REL_17_7" || r.SHA256 != "fb2c2c2d2f6bb8e0b72826fec1204158a567b17792788cd4357ab95b8e40ab7f" {
		t.Errorf("Lookup(17.7) = %+v, %v", r, ok)
	}
	if _, ok := x.Lookup(MustVersion("17.99")); ok {
		t.Error("Lookup(17.99) found a release")
	}
	vs := x.Versions()
	for i := 1; i < len(vs); i++ {
		if vs[i-1].Compare(vs[i]) >= 0 {
			t.Fatalf("index not strictly ascending at %s, %s", vs[i-1], vs[i])
		}
	}
	for _, r := range x.Releases {
		if err := new(SHA256).UnmarshalText([]byte(r.SHA256)); err != nil {
			t.Errorf("index release %s: %v", r.Version, err)
		}
		if _, ok := x.Sources[r.Source]; !ok {
			t.Errorf("index release %s: unknown source %q", r.Version, r.Source)
		}
	}
	r, ok = x.Lookup(MustVersion("18.6"))
	want = Release{Version: "18.6", Source: "tarball",
		SHA256: "555610c24d53e4316da5b7d3fc25c279d96856d5e0e23ee308c328c5fa881d9f", Size: 22632314,
		Apt: "source:postgresql-18=18.6-3:postgresql-18_18.6.orig.tar.bz2", SourceDateEpoch: 1786473511}
	if !ok || r != want {
		t.Errorf("Lookup(18.6) = %+v, %v; want %+v", r, ok, want)
	}
	// The tag archive of a version with a known tarball is a declared alternative.
	alt := Release{Version: "18.6", Source: "github", SHA256: "ff9b1187e3ab120282b9f3e09a5efba2425838b3a843150c5cb2f019f47ac400", Tag: "REL_18_6"}
	if a := x.Alternatives["18.6"]; len(a) != 1 || a[0] != alt {
		t.Errorf("Alternatives[18.6] = %+v", a)
	}
	if a := x.Alternatives["17.11"]; len(a) != 0 {
		t.Errorf("Alternatives[17.11] = %+v, want none (only a tag archive is known)", a)
	}
	// Every release of the shared facts is indexed, with its tarball first.
	var facts struct {
		GitHub  map[string]struct{ SHA256 string } `json:"github"`
		Tarball map[string]struct{ SHA256 string } `json:"tarball"`
	}
	if err := json.Unmarshal(releasesJSON, &facts); err != nil {
		t.Fatal(err)
	}
	for v, g := range facts.GitHub {
		r, ok := x.Lookup(MustVersion(v))
		if tb, has := facts.Tarball[v]; has {
			if !ok || string(r.SHA256) != tb.SHA256 || len(x.Alternatives[v]) != 1 || string(x.Alternatives[v][0].SHA256) != g.SHA256 {
				t.Errorf("%s: %+v alternatives %+v, want the tarball first and the tag archive as alternative", v, r, x.Alternatives[v])
			}
		} else if !ok || string(r.SHA256) != g.SHA256 || r.Source != "github" {
			t.Errorf("%s: %+v, want the tag archive %s", v, r, g.SHA256)
		}
	}
	for v, tb := range facts.Tarball {
		if r, ok := x.Lookup(MustVersion(v)); !ok || string(r.SHA256) != tb.SHA256 || r.Source != "tarball" {
			t.Errorf("%s: %+v, want the tarball %s", v, r, tb.SHA256)
		}
	}
	for spec, want := range map[string]string{"17.*": "17.12", "17.11": "17.11", "<17.12,>=17": "17.11", "16": "16.15", "*": "18.6", ">=16.2,<16.5": "16.4", "15.*": "15.19", "18": "18.6"} {
		if v, ok := x.Newest(mustSpec(spec)); !ok || v.String() != want {
			t.Errorf("Newest(%s) = %v, %v; want %s", spec, v, ok, want)
		}
	}
	if v, ok := x.Newest(mustSpec("19.*")); ok {
		t.Errorf("Newest(19.*) = %v", v)
	}
	var got []string
	for _, v := range x.All(mustSpec(">=16.9,<17.1")) {
		got = append(got, v.String())
	}
	if strings.Join(got, " ") != "16.9 16.10 16.11 16.12 16.13 16.14 16.15 17.0" {
		t.Errorf("All(>=16.9,<17.1) = %v", got)
	}
	for _, tc := range []struct {
		opt     Option
		version string
		ok      bool
	}{
		{"injection_points", "16.11", false}, {"injection_points", "17.0", true},
		{"liburing", "18.0", true}, {"liburing", "17.7", false},
		{"libnuma", "17.7", false}, {"libnuma", "18.0", true}, {"libcurl", "18.1", true},
		{"atomics", "17.7", true}, {"atomics", "18.0", false}, {"spinlocks", "18.1", false},
		{"llvm", "9.6.24", true},
	} {
		if got := x.OptionAllowed(tc.opt, MustVersion(tc.version)); got != tc.ok {
			t.Errorf("OptionAllowed(%s, %s) = %v, want %v", tc.opt, tc.version, got, tc.ok)
		}
	}
}

func TestIndexManifestAdditions(t *testing.T) {
	m, err := Parse("m.toml", []byte(minimal+`
[[postgres.source]]
name = "mirror"
urls = ["https://mirror.example/pg-{version}-{major}-{minor}-{tag}.tgz"]
strip_prefix = "pg-{version}"

[[postgres.release]]
version = "14.20"
sha256 = "`+sha+`"
size = 42

[[postgres.release]]
version = "17.7"
source = "mirror"
tag = "T"
sha256 = "`+strings.Repeat("2", 64)+`"

[options]
injection_points = ">=18"
`))
	if err != nil {
		t.Fatal(err)
	}
	x := m.Index
	if r, ok := x.Lookup(MustVersion("14.20")); !ok || r.Source != "tarball" || r.Size != 42 || string(r.SHA256) != sha {
		t.Errorf("added release 14.20 = %+v, %v", r, ok)
	}
	if v := x.Versions(); v[0].String() != "14.20" {
		t.Errorf("added release not sorted first: %v", v[:3])
	}
	if r, _ := x.Lookup(MustVersion("17.7")); r.Source != "mirror" || r.SHA256 != SHA256(strings.Repeat("2", 64)) {
		t.Errorf("override of 17.7 = %+v", r)
	}
	if n := len(x.All(mustSpec("17.7"))); n != 1 {
		t.Errorf("17.7 is in the index %d times", n)
	}
	if x.OptionAllowed("injection_points", MustVersion("17.7")) || !x.OptionAllowed("injection_points", MustVersion("18.0")) {
		t.Error("[options] did not override the injection_points constraint")
	}
	// Another manifest still sees the pristine built-in index.
	m2, err := Parse("m2.toml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := m2.Index.Lookup(MustVersion("17.7")); r.Source != "github" {
		t.Errorf("override leaked into another manifest's index: %+v", r)
	}
	if got := Expand(x.Sources["mirror"].URLs[0], MustVersion("17.7"), "T", "postgresql"); got != "https://mirror.example/pg-17.7-17-7-T.tgz" {
		t.Errorf("Expand = %q", got)
	}
	if got := Expand("{name}-{version}/{major}", MustVersion("9.6.24"), "", "postgresql"); got != "postgresql-9.6.24/9.6" {
		t.Errorf("Expand(9.6.24) = %q", got)
	}
}

func TestSetOptions(t *testing.T) {
	for set, want := range map[OptionSet]string{
		"barebones": "",
		"minimal":   "nls readline openssl uuid zlib",
		"regular":   "nls readline openssl uuid zlib icu llvm lz4 plpython systemd zstd",
		"full":      "nls readline openssl uuid zlib icu llvm lz4 plpython systemd zstd gssapi ldap libxml libxslt pam plperl pltcl selinux liburing libnuma libcurl",
		"debug":     "nls readline openssl uuid zlib icu llvm lz4 plpython systemd zstd debug cassert injection_points",
	} {
		var got []string
		for _, o := range SetOptions(set) {
			got = append(got, string(o))
			if err := new(Option).UnmarshalText([]byte(o)); err != nil {
				t.Errorf("set %s: %v", set, err)
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("SetOptions(%s) = %v, want %s", set, got, want)
		}
	}
	// Results do not share backing arrays: changing one leaves the others.
	full := SetOptions("full")
	full[len(full)-1] = "x"
	if d := SetOptions("debug"); d[len(d)-1] != "injection_points" {
		t.Errorf("SetOptions results alias: %v", d)
	}
}

func TestBuildKind(t *testing.T) {
	for in, plugin := range map[string]string{"contrib": "", "pgxs": "", "configure": "", "cmake": "", "make": "", "meson": "", "plugin:gen": "gen"} {
		var k BuildKind
		if err := k.UnmarshalText([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
		if p, ok := k.Plugin(); ok != (plugin != "") || (ok && p != plugin) {
			t.Errorf("%s.Plugin() = %q, %v", in, p, ok)
		}
	}
}

func TestIndexFileBesideManifest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(path, []byte("[postgres]\nversions = [\"18.*\"]\n[index]\ndebian_suites = [\"sid\"]\npostgres = \">=18\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, gh := strings.Repeat("7", 64), strings.Repeat("8", 64)
	file := `{"postgres": [
  {"version": "18.7", "source": "github", "sha256": "` + gh + `", "tag": "REL_18_7", "origins": ["git"]},
  {"version": "18.7", "source": "tarball", "sha256": "` + tb + `", "size": 5, "origins": ["debian sid"]}
]}`
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Crawl.DebianSuites) != 1 || m.Crawl.DebianSuites[0] != "sid" || !m.Crawl.Postgres.Match(MustVersion("18.1")) || m.Crawl.Postgres.Match(MustVersion("17.1")) {
		t.Errorf("[index] = %+v", m.Crawl)
	}
	// The file's tarball is chosen, its tag archive is the alternative,
	// whatever their order in the file.
	if v, _ := m.Index.Newest(mustSpec("18.*")); v.String() != "18.7" {
		t.Errorf("18.* = %s, want 18.7 from the index file", v)
	}
	if r, _ := m.Index.Lookup(MustVersion("18.7")); string(r.SHA256) != tb || r.Source != "tarball" {
		t.Errorf("18.7 = %+v, want the tarball", r)
	}
	if a, ok := m.Index.Pinned(MustVersion("18.7"), "github"); !ok || string(a.SHA256) != gh {
		t.Errorf("18.7 github = %+v %v", a, ok)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"postgres": [{"version": "18.7", "source": "tarball", "sha256": "xyz"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), IndexFileName+": bad sha256 \"xyz\"") {
		t.Errorf("bad index file: %v", err)
	}
}
