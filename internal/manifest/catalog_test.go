package manifest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testCatalog is a catalog as `monogres index update` writes it: pglogical
// with two versions, pgvector (control file "vector"), and an entry whose
// tarball answered 404.
func testCatalog() Catalog {
	v := func(ver, prefix, spec, build string, sha byte) CatalogVersion {
		return CatalogVersion{Version: ver, Debian: ver + "-1", Suites: []string{"trixie"}, URL: "https://deb.debian.org/debian/pool/main/x/x_" + ver + ".orig.tar.gz",
			SHA256: SHA256(strings.Repeat(string(sha), 64)), Size: 100, Apt: "source:x=" + ver + "-1:x_" + ver + ".orig.tar.gz", Fetchable: build != "",
			StripPrefix: prefix, Build: build, Majors: []int{17}, Postgres: spec, Packages: []string{"libfoo-dev"}}
	}
	gone := v("1.0", "", "<18", "", 'c')
	gone.Unfetchable = "https://deb.debian.org/debian/pool/main/g/gone/gone_1.0.orig.tar.gz: HTTP 404 Not Found"
	return Catalog{Extensions: []CatalogEntry{
		{Name: "gone", SourcePackage: "pg-gone", Versions: []CatalogVersion{gone}},
		{Name: "pglogical", SourcePackage: "pglogical", Versions: []CatalogVersion{v("2.4.5", "pglogical-REL2_4_5", "<18", "pgxs", 'a'), v("2.4.2", "pglogical-REL2_4_2", "<16", "pgxs", 'b')}},
		{Name: "pgvector", SourcePackage: "pgvector", Versions: []CatalogVersion{{Version: "0.8.0", SHA256: SHA256(strings.Repeat("d", 64)), URL: "https://x/pgvector_0.8.0.orig.tar.gz", Build: "pgxs", Controls: []string{"vector"}, Postgres: "<18", Fetchable: true}}},
	}}
}

// parseWithCatalog writes the catalog and the manifest to a directory and
// loads the manifest from there; errors name files relative to it.
func parseWithCatalog(t *testing.T, c Catalog, toml string) (*Manifest, error) {
	dir := t.TempDir()
	b, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, CatalogFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), dir+"/", ""))
	}
	return m, nil
}

func TestSelectFromCatalog(t *testing.T) {
	m, err := parseWithCatalog(t, testCatalog(), `extensions = ["pglogical", "vector"]
`+minimal)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Extensions) != 2 {
		t.Fatalf("extensions %+v", m.Extensions)
	}
	pl := m.Extensions[0]
	if pl.Name != "pglogical" || !slices.Equal(pl.Versions, []string{"2.4.5"}) || pl.Build != "pgxs" || pl.Postgres.String() != "<18" ||
		!slices.Equal(pl.Packages, []string{"libfoo-dev"}) || !pl.Catalog || len(pl.Releases) != 1 {
		t.Fatalf("pglogical %+v", pl)
	}
	if r := pl.Releases[0]; r.SHA256 != SHA256(strings.Repeat("a", 64)) || r.StripPrefix != "pglogical-REL2_4_5" || r.URL != "https://deb.debian.org/debian/pool/main/x/x_2.4.5.orig.tar.gz" || r.Size != 100 {
		t.Errorf("pglogical release %+v", r)
	}
	if m.Extensions[1].Name != "pgvector" {
		t.Errorf("selected by control file name: %+v", m.Extensions[1])
	}

	// The catalog's digest is part of the manifest's: a re-pinned catalog
	// makes the lock stale.
	c := testCatalog()
	c.Extensions[1].Versions[0].SHA256 = SHA256(strings.Repeat("e", 64))
	m2, err := parseWithCatalog(t, c, "extensions = [\"pglogical\", \"vector\"]\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Digest() == m.Digest() {
		t.Error("a changed catalog sha256 kept the manifest digest")
	}

	// "*" takes every entry with a known build kind (not the 404 one).
	all, err := parseWithCatalog(t, testCatalog(), "extensions = [\"*\"]\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range all.Extensions {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"pglogical", "pgvector"}) {
		t.Errorf(`"*" selected %v`, names)
	}
}

// TestCatalogOverride: an [[extension]] of a selected name overrides the
// fields it sets, including the versions (another catalog version, with
// its own pin) and the settings, and keeps the rest from the catalog.
func TestCatalogOverride(t *testing.T) {
	m, err := parseWithCatalog(t, testCatalog(), `extensions = ["pglogical", "gone"]
`+minimal+`
[[extension]]
name = "pglogical"
versions = ["2.4.2"]
postgres = ">=15"

[[extension]]
name = "gone"
versions = ["1.0"]
build = "pgxs"
[[extension.source]]
urls = ["https://mirror.example/gone-{version}.tar.gz"]
strip_prefix = "gone-{version}"

[[extension]]
name = "handwritten"
versions = ["1"]
build = "contrib"
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Extensions) != 3 {
		t.Fatalf("extensions %+v", m.Extensions)
	}
	pl := m.Extensions[0]
	if pl.Postgres.String() != ">=15" || pl.Build != "pgxs" || pl.Releases[0].StripPrefix != "pglogical-REL2_4_2" || pl.Releases[0].SHA256 != SHA256(strings.Repeat("b", 64)) {
		t.Errorf("pglogical overridden %+v", pl)
	}
	if g := m.Extensions[1]; g.Build != "pgxs" || len(g.Sources) != 1 || len(g.Releases) != 1 || g.Releases[0].SHA256 != SHA256(strings.Repeat("c", 64)) {
		t.Errorf("gone (built from a mirror, pinned by the catalog) %+v", g)
	}
	if h := m.Extensions[2]; h.Name != "handwritten" || h.Catalog {
		t.Errorf("hand-written entry %+v", h)
	}
}

func TestCatalogSelectErrors(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"unknown name", "extensions = [\n  \"pglogical\",\n  \"pgvectr\",\n]\n" + minimal,
			`monogres.toml:3:3: extensions: "pgvectr" is not in monogres.catalog.json (it has 3 entries; ` + "`monogres index update`" + ` refreshes it)`},
		{"unfetchable without build", "extensions = [\"gone\"]\n" + minimal,
			`monogres.toml:1:15: extensions: gone: build kind unknown: its tarball could not be downloaded when the catalog was made (https://deb.debian.org/debian/pool/main/g/gone/gone_1.0.orig.tar.gz: HTTP 404 Not Found); give build (and source) in an [[extension]] named "gone"`},
		{"unknown version", "extensions = [\"pglogical\"]\n" + minimal + "[[extension]]\nname = \"pglogical\"\nversions = [\"9.9\"]\n",
			`monogres.toml:1:15: extensions: version "9.9" of pglogical is not in monogres.catalog.json (known: 2.4.5, 2.4.2)`},
		{"validation error of a selected entry", "extensions = [\"pglogical\"]\n" + minimal + "[[extension]]\nname = \"pglogical\"\nbuild = \"plugin:nope\"\n",
			`monogres.toml:4: extension[0] "pglogical": build: plugin "nope" is not declared in any [[plugin]]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWithCatalog(t, testCatalog(), tc.toml)
			if err == nil {
				t.Fatalf("loaded, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("\n got %s\nwant %s", err, tc.want)
			}
		})
	}
	// A catalog that is not what index update writes.
	c := testCatalog()
	c.Extensions[1].Versions[0].SHA256 = "nope"
	if _, err := parseWithCatalog(t, c, "extensions = [\"pglogical\"]\n"+minimal); err == nil || !strings.Contains(err.Error(), `bad sha256 "nope"`) {
		t.Errorf("bad catalog sha256: %v", err)
	}
}

// TestWildcardPrunes: "*" leaves out an entry whose Postgres spec matches
// none of the manifest's versions, saying why; naming it keeps it.
func TestWildcardPrunes(t *testing.T) {
	c := testCatalog()
	c.Extensions[2].Versions[0].Postgres = "17.*"
	m, err := parseWithCatalog(t, c, "extensions = [\"*\"]\n"+minimal)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Extensions) != 1 || m.Extensions[0].Name != "pglogical" || len(m.Unselected) != 1 ||
		m.Unselected[0].Name != "pgvector" || m.Unselected[0].Reason != `postgres = "17.*" matches none of the manifest's Postgres versions (15.18)` {
		t.Errorf("extensions %+v unselected %+v", m.Extensions, m.Unselected)
	}
	if m, err := parseWithCatalog(t, c, "extensions = [\"*\", \"pgvector\"]\n"+minimal); err != nil || len(m.Extensions) != 2 {
		t.Errorf("named pgvector: %v %+v", err, m)
	}
}
