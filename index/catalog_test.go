package index

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/index/indextest"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
)

// tarGz makes a .tar.gz of files (path -> content).
func tarGz(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func catalogEntry(c *manifest.Catalog, name string) *manifest.CatalogEntry {
	for i := range c.Extensions {
		if c.Extensions[i].Name == name {
			return &c.Extensions[i]
		}
	}
	return nil
}

// TestCatalog crawls a loopback archive signed by a test key: extension
// source packages (and only those) become catalog entries; a served
// tarball is downloaded into the store and read (strip_prefix, build kind,
// control files, REGRESS); one the archive answers 404 for is marked
// unfetchable with the reason; a tarball whose bytes differ from Sources
// is refused and stores nothing; a re-run with a changed digest is a
// conflict that keeps the pin.
func TestCatalog(t *testing.T) {
	a := indextest.NewArchive(t)
	foo := tarGz(t, map[string]string{
		"pg_foo-1.2/Makefile":              "EXTENSION = foo\nREGRESS = foo_test\nPGXS := $(shell $(PG_CONFIG) --pgxs)\ninclude $(PGXS)\n",
		"pg_foo-1.2/foo.control":           "default_version = '1.2'\n",
		"pg_foo-1.2/test/sql/foo_test.sql": "SELECT 1;\n",
	})
	geo := tarGz(t, map[string]string{"geo-3.0/configure": "#!/bin/sh\n", "geo-3.0/Makefile.in": "REGRESS = a\n", "geo-3.0/extensions/geo/geo.control.in": ""})
	cm := tarGz(t, map[string]string{"CMakeLists.txt": "project(x)\n", "src/x.c": ""}) // no top directory
	a.Suite(t, "sid",
		indextest.Source{Package: "pg-foo", Version: "1.2-3", Serve: true,
			Binary:       []string{"postgresql-16-foo", "postgresql-17-foo"},
			BuildDepends: "debhelper-compat (= 13), postgresql-server-dev-all (>= 217~), libfoo-dev | libfoo2-dev, pgtap <!nocheck>, architecture-is-64-bit, libwin-dev [i386], make, libnothere-dev",
			Files:        map[string][]byte{"pg-foo_1.2.orig.tar.gz": foo, "pg-foo_1.2-3.debian.tar.xz": []byte("d")}},
		indextest.Source{Package: "geo", Version: "3.0+dfsg-1", Serve: true, Binary: []string{"postgresql-17-geo", "geo-doc"},
			Files: map[string][]byte{"geo_3.0+dfsg.orig.tar.gz": geo}},
		indextest.Source{Package: "pgaudit-17", Version: "17.1-1", Serve: true, Binary: []string{"postgresql-17-pgaudit"},
			Files: map[string][]byte{"pgaudit-17_17.1.orig.tar.gz": cm}},
		indextest.Source{Package: "pg-gone", Version: "1:0.9~rc1-1", Binary: []string{"postgresql-17-gone"},
			Files: map[string][]byte{"pg-gone_0.9~rc1.orig.tar.xz": []byte("never served")}},
		indextest.Source{Package: "pg-evil", Version: "1.0-1", Binary: []string{"postgresql-17-evil"},
			Files: map[string][]byte{"pg-evil_1.0.orig.tar.gz": []byte("what Debian signed")}},
		indextest.Source{Package: "postgresql-17", Version: "17.7-1", Binary: []string{"postgresql-17"}, Files: map[string][]byte{"postgresql-17_17.7.orig.tar.bz2": []byte("pg")}},
		indextest.Source{Package: "libpq-tool", Version: "1-1", Binary: []string{"libpq-tool"}, Files: map[string][]byte{"libpq-tool_1.orig.tar.gz": []byte("x")}},
	)
	a.Write(t, "pool/main/p/pg-evil/pg-evil_1.0.orig.tar.gz", []byte("what mirror served"))
	kr := keyring(t, a.KeyringFile)
	ctx := context.Background()
	cc := &CatalogCrawl{}
	found, err := Debian{Archive: a.URL, Suite: "sid", Keyring: kr, Catalog: cc}.Crawl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Version != "17.7" {
		t.Errorf("the Postgres crawl with a catalog found %+v, want 17.7", found)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	known := func(n string) bool { return n == "libfoo2-dev" || n == "pgtap" || n == "make" }
	res, err := cc.Build(ctx, CatalogOptions{Fetcher: &fetch.Fetcher{Store: st, Retries: -1}, Known: known, Base: []string{"make"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range res.Catalog.Extensions {
		names = append(names, e.Name)
	}
	if want := []string{"geo", "pg_evil", "pg_foo", "pg_gone", "pgaudit_17"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	if len(res.New) != 5 || len(res.Conflicts) != 0 {
		t.Errorf("new %v conflicts %v", res.New, res.Conflicts)
	}
	fv := catalogEntry(&res.Catalog, "pg_foo").Versions[0]
	if fv.Version != "1.2" || fv.Debian != "1.2-3" || !fv.Fetchable || fv.StripPrefix != "pg_foo-1.2" || fv.Build != "pgxs" || !fv.Regress ||
		!slices.Equal(fv.Controls, []string{"foo"}) || !slices.Equal(fv.Majors, []int{16, 17}) || fv.Postgres != "<18" ||
		fv.URL != a.URL+"/pool/main/p/pg-foo/pg-foo_1.2.orig.tar.gz" || fv.Size != int64(len(foo)) || fv.Apt != "source:pg-foo=1.2-3:pg-foo_1.2.orig.tar.gz" ||
		!strings.HasPrefix(fv.Origin, "debian sid Sources (signed by ") {
		t.Errorf("pg_foo %+v", fv)
	}
	// Build-Depends: the second alternative the suite has; Postgres,
	// debhelper, test-only, other-arch, marker and base packages dropped.
	if !slices.Equal(fv.Packages, []string{"libfoo2-dev"}) || !slices.Equal(fv.Unmapped, []string{"libnothere-dev"}) {
		t.Errorf("pg_foo packages %v unmapped %v", fv.Packages, fv.Unmapped)
	}
	if !st.Has(string(fv.SHA256)) {
		t.Error("pg_foo's tarball is not in the store")
	}
	if g := catalogEntry(&res.Catalog, "geo").Versions[0]; g.Build != "configure" || !g.Regress || g.StripPrefix != "geo-3.0" || !slices.Equal(g.Controls, []string{"geo"}) || g.Version != "3.0+dfsg" {
		t.Errorf("geo %+v", g)
	}
	if p := catalogEntry(&res.Catalog, "pgaudit_17").Versions[0]; p.Build != "cmake" || p.StripPrefix != "" || p.Postgres != "17.*" {
		t.Errorf("pgaudit_17 (a CMake tarball without a top directory, named after Postgres 17) %+v", p)
	}
	g := catalogEntry(&res.Catalog, "pg_gone").Versions[0]
	if g.Fetchable || g.Version != "0.9-rc1" || !strings.Contains(g.Unfetchable, "404") || !strings.Contains(g.Unfetchable, "pg-gone_0.9~rc1.orig.tar.xz") {
		t.Errorf("pg_gone (404) %+v", g)
	}
	ev := catalogEntry(&res.Catalog, "pg_evil").Versions[0]
	if ev.Fetchable || !strings.Contains(ev.Unfetchable, "checksum mismatch") || st.Has(string(ev.SHA256)) {
		t.Errorf("pg_evil (served bytes differ from Sources) %+v; in store: %v", ev, st.Has(string(ev.SHA256)))
	}
	if _, err := (&manifest.Catalog{}).Lookup("x"); err {
		t.Error("lookup in an empty catalog")
	}

	// Debian re-rolls pg-foo 1.2: a conflict, the pin stays.
	foo2 := tarGz(t, map[string]string{"pg_foo-1.2/Makefile": "PGXS := x\n"})
	a.Suite(t, "sid", indextest.Source{Package: "pg-foo", Version: "1.2-4", Serve: true, Binary: []string{"postgresql-17-foo"},
		Files: map[string][]byte{"pg-foo_1.2.orig.tar.gz": foo2}})
	cc2 := &CatalogCrawl{}
	if _, err := (Debian{Archive: a.URL, Suite: "sid", Keyring: kr, Catalog: cc2}).Crawl(ctx); err != nil {
		t.Fatal(err)
	}
	res2, err := cc2.Build(ctx, CatalogOptions{Old: &res.Catalog})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Conflicts) != 1 || res2.Conflicts[0].Pinned != fv.SHA256 || !strings.Contains(res2.Conflicts[0].String(), "pg_foo 1.2") {
		t.Fatalf("conflicts %v", res2.Conflicts)
	}
	if v := catalogEntry(&res2.Catalog, "pg_foo").Versions[0]; v.SHA256 != fv.SHA256 || v.StripPrefix != "pg_foo-1.2" {
		t.Errorf("the re-rolled digest replaced the pin: %+v", v)
	}
	if catalogEntry(&res2.Catalog, "geo") == nil {
		t.Error("an entry Debian no longer lists was dropped from the catalog")
	}
}

// TestCatalogReal reads Debian's real signed bookworm and trixie Sources
// for three extensions the issue names and downloads their tarballs into
// the test cache: pglogical's strip_prefix (which no placeholder can
// express) and pgmemcache's runtime library's -dev package come out right.
func TestCatalogReal(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian's bookworm and trixie Sources indexes and three extension tarballs")
	}
	ctx := context.Background()
	cc := &CatalogCrawl{}
	for _, suite := range []string{"bookworm", "trixie"} {
		if _, err := (Debian{Archive: "https://deb.debian.org/debian", Suite: suite, Catalog: cc}).Crawl(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(testenv.CacheDir(t) + "/store")
	if err != nil {
		t.Fatal(err)
	}
	res, err := cc.Build(ctx, CatalogOptions{Fetcher: &fetch.Fetcher{Store: st}, Only: []string{"pglogical", "pgmemcache", "pgvector"}, Base: []string{"make", "gcc"}})
	if err != nil {
		t.Fatal(err)
	}
	version := func(name, v string) manifest.CatalogVersion {
		e := catalogEntry(&res.Catalog, name)
		if e == nil {
			t.Fatalf("no %s in %+v", name, res.Catalog)
		}
		for _, x := range e.Versions {
			if x.Version == v {
				return x
			}
		}
		t.Fatalf("no %s %s in %+v", name, v, e.Versions)
		return manifest.CatalogVersion{}
	}
	pl := version("pglogical", "2.4.2")
	if !pl.Fetchable || pl.StripPrefix != "pglogical-REL2_4_2" || pl.Build != "pgxs" || !slices.Contains(pl.Majors, 15) || !slices.Contains(pl.Suites, "bookworm") {
		t.Errorf("pglogical 2.4.2 %+v", pl)
	}
	pm := version("pgmemcache", "2.3.0")
	if !pm.Fetchable || pm.StripPrefix != "pgmemcache-2.3.0" || !slices.Contains(pm.Packages, "libmemcached-dev") || !slices.Equal(pm.Controls, []string{"pgmemcache"}) {
		t.Errorf("pgmemcache 2.3.0 %+v", pm)
	}
	pv := version("pgvector", "0.8.0")
	if !pv.Fetchable || pv.Build != "pgxs" || !slices.Equal(pv.Controls, []string{"vector"}) || pv.Postgres != "<18" {
		t.Errorf("pgvector 0.8.0 %+v", pv)
	}
	for _, e := range res.Catalog.Extensions {
		for _, v := range e.Versions {
			t.Logf("%s %s fetchable=%t %s %s %v", e.Name, v.Version, v.Fetchable, v.Build, v.StripPrefix, v.Packages)
		}
	}
}
