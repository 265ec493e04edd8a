package manifest

import (
	"strings"
	"testing"
)

const pglogical = `bundle = true

[postgres]
versions = ["15.18", "18.6"]
targets = ["amd64", "arm64"]

[[extension]]
name = "pglogical"
versions = ["2.4.2"]
build = "pgxs"
shared_preload_libraries = ["pglogical"]
conf = ["wal_level = logical"]
smoke_sql = ["SELECT pglogical.pglogical_version() <> ''"]
bundle = true
regress = "advisory"
regress_reason = "needs a second node"
[[extension.source]]
name = "pglogical"
urls = ["https://example.org/pglogical-{version}.tar.gz"]
[[extension.exclude]]
target = "arm64"
reason = "no cross build of libpq needed here"
[[extension.exclude]]
postgres = ">=18"
reason = "2.4.2 predates 18"
`

// TestExtensionSettings decodes every per-extension setting from TOML and
// checks Excluded against targets and versions.
func TestExtensionSettings(t *testing.T) {
	m, err := Parse("m.toml", []byte(pglogical))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Bundle {
		t.Error("top-level bundle = true not decoded")
	}
	s := m.Extensions[0].ExtensionSettings
	if strings.Join(s.SharedPreloadLibraries, ",") != "pglogical" || s.Conf[0] != "wal_level = logical" || len(s.SmokeSQL) != 1 ||
		!s.Bundle || s.Regress != "advisory" || s.RegressReason != "needs a second node" || len(s.Exclude) != 2 {
		t.Fatalf("settings %+v", s)
	}
	for _, tc := range []struct {
		v, arch, why string
	}{
		{"15.18", "amd64", ""},
		{"15.18", "arm64", "no cross build of libpq needed here"},
		{"18.6", "amd64", "2.4.2 predates 18"},
	} {
		why, ok := s.Excluded(MustVersion(tc.v), Arch(tc.arch))
		if why != tc.why || ok != (tc.why != "") {
			t.Errorf("Excluded(%s, %s) = %q, %v; want %q", tc.v, tc.arch, why, ok, tc.why)
		}
	}
}

// Per-target settings of a supported arch the manifest does not build
// now are kept for when it does: they are not an error.
func TestSettingsForUnbuiltTarget(t *testing.T) {
	m, err := Parse("m.toml", []byte(strings.Replace(pglogical, `targets = ["amd64", "arm64"]`, `targets = ["amd64"]`, 1)+"[extension.target.arm64]\npackages = [\"libmemcached-dev:arm64\"]\n[toolchain.target.arm64]\npackages = [\"gcc-aarch64-linux-gnu\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Extensions[0].Target["arm64"].Packages; len(got) != 1 {
		t.Errorf("extension.target.arm64 packages %v", got)
	}
}

// An exclude naming neither a target nor versions excludes every cell of
// the extension (a build that needs the network, say), with its reason.
func TestExcludeEverywhere(t *testing.T) {
	m, err := Parse("m.toml", []byte(strings.Replace(pglogical, `postgres = ">=18"`, ``, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"15.18", "18.6"} {
		if why, ok := m.Extensions[0].Excluded(MustVersion(v), "amd64"); !ok || why != "2.4.2 predates 18" {
			t.Errorf("Excluded(%s, amd64) = %q, %v; want the target-less exclude", v, why, ok)
		}
	}
}

// TestExtensionSettingsErrors names the extension and the bad field.
func TestExtensionSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{`regress_reason = "needs a second node"`, ``, `extension[0] "pglogical": regress = "advisory" needs regress_reason`},
		{`regress = "advisory"`, `regress = "maybe"`, `regress = "maybe": want "advisory" or "skip"`},
		{`shared_preload_libraries = ["pglogical"]`, `shared_preload_libraries = ["a,b"]`, `shared_preload_libraries[0] "a,b"`},
		{`conf = ["wal_level = logical"]`, `conf = ["wal_level"]`, `conf[0] "wal_level": want one postgresql.conf line`},
		{`smoke_sql = ["SELECT pglogical.pglogical_version() <> ''"]`, `smoke_sql = [" "]`, `smoke_sql[0] is empty`},
		{`reason = "2.4.2 predates 18"`, ``, `exclude[1]: reason is required`},
		{`target = "arm64"`, `target = "arm46"`, `unknown arch "arm46"`},
	} {
		_, err := Parse("m.toml", []byte(strings.Replace(pglogical, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: error %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}

// TestRequires: requires names other extensions of the manifest; an
// unknown name and a cycle are errors naming the extension (and the
// position of its entry).
func TestRequires(t *testing.T) {
	const pgq = `
[[extension]]
name = "pgq"
versions = ["3.5.1"]
build = "make"
[[extension.source]]
name = "pgq"
urls = ["https://example.org/pgq-{version}.tar.gz"]

[[extension]]
name = "pgq_node"
versions = ["3.5"]
build = "make"
requires = ["pgq"]
[[extension.source]]
name = "pgq_node"
urls = ["https://example.org/pgq-node-{version}.tar.gz"]
`
	m, err := Parse("m.toml", []byte(pglogical+pgq))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Extensions[2].Requires; len(got) != 1 || got[0] != "pgq" {
		t.Errorf("pgq_node requires %q", got)
	}
	for _, tc := range []struct{ old, new, want string }{
		{`requires = ["pgq"]`, `requires = ["pgqq"]`, `m.toml:`},
		{`requires = ["pgq"]`, `requires = ["pgqq"]`, `extension[2] "pgq_node": requires[0] "pgqq" is not an extension of the manifest`},
		{`build = "make"
[[extension.source]]
name = "pgq"`, `build = "make"
requires = ["pgq_node"]
[[extension.source]]
name = "pgq"`, `requires form a cycle: pgq → pgq_node → pgq`},
	} {
		_, err := Parse("m.toml", []byte(strings.Replace(pglogical+pgq, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: error %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}
