package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

func parse(t testing.TB, toml string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("m.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pg(v, input string) Postgres { return Postgres{Version: manifest.MustVersion(v), Input: input} }

func join[T ~string](xs []T) string {
	var s []string
	for _, x := range xs {
		s = append(s, string(x))
	}
	return strings.Join(s, ",")
}

func TestOptions(t *testing.T) {
	m := parse(t, `
[postgres]
versions = ["15.18"]
targets = ["amd64", "arm64"]
[[postgres.release]]
version = "14.20"
sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
[target.arm64]
unsupported = ["llvm", "plperl"]
`)
	const regular = "nls,readline,openssl,uuid,zlib,icu,llvm,lz4,plpython,systemd,zstd"
	const regularArm = "nls,readline,openssl,uuid,zlib,icu,lz4,plpython,systemd,zstd"
	const fullExtra = "gssapi,ldap,libxml,libxslt,pam,plperl,pltcl,selinux"
	for _, tc := range []struct {
		version string
		set     manifest.OptionSet
		arch    manifest.Arch
		opts    string
		dropped string // "option: reason" joined by "; "
	}{
		{"15.18", "barebones", "amd64", "", ""},
		{"15.18", "minimal", "arm64", "nls,readline,openssl,uuid,zlib", ""},
		{"15.18", "regular", "amd64", regular, ""},
		{"15.18", "regular", "arm64", regularArm, "llvm: unsupported on arm64, see target.arm64.unsupported"},
		// injection_points only from 17.0.
		{"16.11", "debug", "amd64", regular + ",debug,cassert", "injection_points: needs postgres >=17.0"},
		{"17.0", "debug", "amd64", regular + ",debug,cassert,injection_points", ""},
		{"17.7", "debug", "arm64", regularArm + ",debug,cassert,injection_points", "llvm: unsupported on arm64, see target.arm64.unsupported"},
		// liburing, libnuma and libcurl from 18.
		{"15.18", "full", "amd64", regular + "," + fullExtra, "liburing: needs postgres >=18.0; libnuma: needs postgres >=18.0; libcurl: needs postgres >=18.0"},
		{"17.7", "full", "arm64", regularArm + ",gssapi,ldap,libxml,libxslt,pam,pltcl,selinux",
			"llvm: unsupported on arm64, see target.arm64.unsupported; plperl: unsupported on arm64, see target.arm64.unsupported; liburing: needs postgres >=18.0; libnuma: needs postgres >=18.0; libcurl: needs postgres >=18.0"},
		{"18.0", "full", "amd64", regular + "," + fullExtra + ",liburing,libnuma,libcurl", ""},
	} {
		opts, dropped := Options(m, manifest.MustVersion(tc.version), tc.set, tc.arch)
		if opts == nil {
			t.Errorf("Options(%s, %s, %s) = nil, want a list (JSON [] rather than null)", tc.version, tc.set, tc.arch)
		}
		var ds []string
		for _, d := range dropped {
			ds = append(ds, string(d.Option)+": "+d.Reason)
		}
		if got := join(opts); got != tc.opts {
			t.Errorf("Options(%s, %s, %s):\n got %s\nwant %s", tc.version, tc.set, tc.arch, got, tc.opts)
		}
		if got := strings.Join(ds, "; "); got != tc.dropped {
			t.Errorf("Options(%s, %s, %s) dropped:\n got %s\nwant %s", tc.version, tc.set, tc.arch, got, tc.dropped)
		}
	}
}

func TestOptionsManifestConstraint(t *testing.T) {
	m := parse(t, "[postgres]\nversions = [\"17.*\"]\n[options]\ninjection_points = \">=18\"\nllvm = \"<17\"\n")
	opts, dropped := Options(m, manifest.MustVersion("17.7"), "debug", "amd64")
	if got := join(opts); got != "nls,readline,openssl,uuid,zlib,icu,lz4,plpython,systemd,zstd,debug,cassert" {
		t.Errorf("options = %s", got)
	}
	if len(dropped) != 2 || dropped[0] != (Dropped{"llvm", "needs postgres <17"}) || dropped[1] != (Dropped{"injection_points", "needs postgres >=18"}) {
		t.Errorf("dropped = %+v", dropped)
	}
}

func TestCellNames(t *testing.T) {
	if got := PostgresCellName(manifest.MustVersion("17.0"), "regular", "amd64"); got != "postgres~17.0~regular~amd64" {
		t.Errorf("PostgresCellName = %q", got)
	}
	if got := PostgresCellName(manifest.MustVersion("9.6.24"), "debug", "arm64"); got != "postgres~9.6.24~debug~arm64" {
		t.Errorf("PostgresCellName = %q", got)
	}
	if got := ExtensionInputName("pg_similarity", "1.0"); got != "extension/pg_similarity/1.0" {
		t.Errorf("ExtensionInputName = %q", got)
	}
}

const matrixManifest = `
[postgres]
versions = ["15.18", "17.*"]
option_sets = ["minimal", "debug"]
targets = ["amd64", "arm64"]

[target.arm64]
unsupported = ["llvm"]

[[extension]]
name = "pg_similarity"
versions = ["1.0"]
build = "pgxs"
[[extension.source]]
urls = ["https://x/{name}-{version}.tar.gz"]

[[extension]]
name = "inj"
versions = ["0.1", "0.2"]
build = "contrib"
postgres = ">=17"
`

func TestEach(t *testing.T) {
	m := parse(t, matrixManifest)
	pgs := []Postgres{pg("15.18", "postgres/15"), pg("17.7", "postgres/17")}
	var got []string
	var cells []Cell
	err := Each(m, pgs, func(c *Cell) error {
		got = append(got, c.Name)
		cells = append(cells, *c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"postgres~15.18~minimal~amd64", "postgres~15.18~minimal~arm64",
		"postgres~15.18~debug~amd64", "postgres~15.18~debug~arm64",
		"postgres~17.7~minimal~amd64", "postgres~17.7~minimal~arm64",
		"postgres~17.7~debug~amd64", "postgres~17.7~debug~arm64",
	}
	for _, p := range want[:8] {
		want = append(want, "pg_similarity~1.0~"+p)
	}
	for _, v := range []string{"0.1", "0.2"} {
		for _, p := range want[4:8] {
			want = append(want, "inj~"+v+"~"+p)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("cells:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byName := map[string]Cell{}
	for _, c := range cells {
		byName[c.Name] = c
	}
	c := byName["pg_similarity~1.0~postgres~15.18~debug~arm64"]
	if c.Extension != "pg_similarity" || c.ExtensionVersion != "1.0" || c.ExtensionInput != "extension/pg_similarity/1.0" ||
		c.Build != "pgxs" || c.Parent != "postgres~15.18~debug~arm64" || c.Input != "postgres/15" ||
		c.Postgres.String() != "15.18" || c.OptionSet != "debug" || c.Arch != "arm64" {
		t.Errorf("extension cell = %+v", c)
	}
	// The extension cell gets exactly its parent's options.
	p := byName[c.Parent]
	if join(c.Options) != join(p.Options) || fmt.Sprint(c.Dropped) != fmt.Sprint(p.Dropped) {
		t.Errorf("extension options %v / %v differ from parent's %v / %v", c.Options, c.Dropped, p.Options, p.Dropped)
	}
	if join(p.Options) != "nls,readline,openssl,uuid,zlib,icu,lz4,plpython,systemd,zstd,debug,cassert" || len(p.Dropped) != 2 {
		t.Errorf("postgres~15.18~debug~arm64 options %v dropped %v", p.Options, p.Dropped)
	}
	if pc := byName["postgres~17.7~minimal~amd64"]; pc.Extension != "" || pc.Parent != "" || pc.Input != "postgres/17" {
		t.Errorf("postgres cell = %+v", pc)
	}
}

func TestEachStops(t *testing.T) {
	m := parse(t, matrixManifest)
	stop := errors.New("stop")
	for _, after := range []int{1, 8, 9, 20} {
		n := 0
		err := Each(m, []Postgres{pg("15.18", "postgres/15"), pg("17.7", "postgres/17")}, func(c *Cell) error {
			n++
			if n == after {
				return stop
			}
			return nil
		})
		if err != stop || n != after {
			t.Errorf("stop after %d: err %v after %d cells", after, err, n)
		}
	}
}

func TestCheckExtensions(t *testing.T) {
	m := parse(t, matrixManifest)
	if err := CheckExtensions(m, []Postgres{pg("15.18", "postgres/15"), pg("17.7", "postgres/17")}); err != nil {
		t.Errorf("compatible: %v", err)
	}
	err := CheckExtensions(m, []Postgres{pg("15.18", "postgres/15"), pg("16.11", "postgres/16")})
	want := `m.toml: extension[1] "inj": postgres = ">=17" matches none of the selected Postgres versions (15.18, 16.11)`
	if err == nil || err.Error() != want {
		t.Errorf("CheckExtensions error = %v, want %s", err, want)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "postgres~15.18~regular~amd64", false},
		{[]string{"postgres~15.18~*~amd64"}, "postgres~15.18~regular~amd64", true},
		{[]string{"postgres~15.18~*~amd64"}, "postgres~15.18~regular~arm64", false},
		{[]string{"postgres~15.18~*~amd64"}, "pg_similarity~1.0~postgres~15.18~regular~amd64", false},
		{[]string{"*~postgres~15.18~*"}, "pg_similarity~1.0~postgres~15.18~regular~amd64", true},
		{[]string{"x", "postgres~17.*"}, "postgres~17.7~debug~arm64", true},
		{[]string{"postgres~17.7~debug~arm64"}, "postgres~17.7~debug~arm64", true},
		{[]string{"[bad"}, "postgres~17.7~debug~arm64", false},
	} {
		if got := Match(tc.patterns, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.patterns, tc.name, got, tc.want)
		}
	}
}

// TestEachExcluded: an [[extension.exclude]] keeps the cells it matches in
// the matrix, dropped with its reason (plan shows them), and only those.
func TestEachExcluded(t *testing.T) {
	m := parse(t, strings.Replace(matrixManifest, `name = "pg_similarity"`, `name = "pg_similarity"
exclude = [{target = "arm64", postgres = "17", reason = "no arm64 build for 17 yet"}]`, 1))
	var excluded []string
	err := Each(m, []Postgres{pg("15.18", "postgres/15"), pg("17.7", "postgres/17")}, func(c *Cell) error {
		if c.IsExcluded() {
			excluded = append(excluded, c.Name+": "+c.Dropped[len(c.Dropped)-1].Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "pg_similarity~1.0~postgres~17.7~minimal~arm64: no arm64 build for 17 yet\npg_similarity~1.0~postgres~17.7~debug~arm64: no arm64 build for 17 yet"
	if got := strings.Join(excluded, "\n"); got != want {
		t.Errorf("excluded:\n%s\nwant:\n%s", got, want)
	}
}
