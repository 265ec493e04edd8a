package fetch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// The real Postgres 15.18 release tarball, as Debian ships it.
const (
	pgFile   = "postgresql-15_15.18.orig.tar.bz2"
	pgSHA256 = "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4"
	pgSize   = 23405115
	pgURL    = "https://deb.debian.org/debian/pool/main/p/postgresql-15/" + pgFile
	pgApt    = "source:postgresql-15=15.18-0+deb12u1:" + pgFile
)

func pgInput(urls ...string) lock.Input {
	return lock.Input{Name: "postgres/15.18", Kind: lock.KindPostgres, Version: "15.18", URLs: urls, SHA256: pgSHA256, Size: pgSize, StripPrefix: "postgresql-15.18", Apt: pgApt}
}

// testCache is $MONOGRES_TEST_CACHE or /var/cache/monogres-test, created if
// possible; else a temp dir.
func testCache(t *testing.T) string {
	d := os.Getenv("MONOGRES_TEST_CACHE")
	if d == "" {
		d = "/var/cache/monogres-test"
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Logf("test cache %s unusable (%v); using a temp dir", d, err)
		return t.TempDir()
	}
	return d
}

// postgresTarball returns a path to the verified 15.18 tarball, downloading
// it (with this package, from deb.debian.org) into the test cache if needed.
func postgresTarball(t *testing.T) string {
	cache := testCache(t)
	p := filepath.Join(cache, "src", pgFile)
	ctx := context.Background()
	if sha, _, err := store.HashFile(ctx, p); err == nil && sha == pgSHA256 {
		return p
	}
	st, err := store.Open(filepath.Join(cache, "store"))
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Store: st, Backoff: time.Second}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := f.Fetch(ctx, []lock.Input{pgInput(pgURL)}); err != nil {
		t.Fatalf("obtaining the Postgres 15.18 tarball from %s: %v", pgURL, err)
	}
	src, err := st.Open(pgSHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	os.MkdirAll(filepath.Dir(p), 0o755)
	tmp := p + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CopyContext(ctx, out, src); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPostgresStoreAdd(t *testing.T) {
	p := postgresTarball(t)
	st := newStore(t)
	added, err := AddFiles(context.Background(), st, []string{p}, []lock.Input{pgInput()})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || len(added[0].Inputs) != 1 || added[0].Inputs[0] != "postgres/15.18" {
		t.Fatalf("added = %+v", added)
	}
	t.Log(added[0])
	if _, err := st.VerifyEntry(pgSHA256); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresDistdirAndExtract(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: decompressing the real 15.18 tarball twice takes over a minute (the full tier runs it)")
	}
	p := postgresTarball(t)
	st := newStore(t)
	f := fetcher(st)
	f.Offline = true
	f.Distdirs = []string{t.TempDir(), filepath.Dir(p)}
	in := pgInput("https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2")
	// The distdir holds it under Debian's name, which is the Apt file name.
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	path, err := st.VerifyEntry(pgSHA256)
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := archive.SourceDateEpoch(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SOURCE_DATE_EPOCH of 15.18: %d (%s)", epoch, time.Unix(epoch, 0).UTC())
	if epoch < time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() || epoch > time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("implausible SOURCE_DATE_EPOCH %d", epoch)
	}
	dest := filepath.Join(t.TempDir(), "src")
	start := time.Now()
	if err := archive.Extract(context.Background(), path, dest, archive.Options{StripPrefix: in.StripPrefix, Mtime: time.Unix(epoch, 0)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("extracted in %v", time.Since(start))
	for _, want := range []string{"configure", "src/backend/main/main.c", "GNUmakefile.in"} {
		if _, err := os.Stat(filepath.Join(dest, want)); err != nil {
			t.Errorf("missing %s: %v", want, err)
		}
	}
	fi, err := os.Stat(filepath.Join(dest, "configure"))
	if err != nil || fi.Mode().Perm() != 0o755 || fi.ModTime().Unix() != epoch {
		t.Errorf("configure: %v %v", fi.Mode(), err)
	}
}

func TestPostgresApt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs apt-get against deb.debian.org (the full tier runs it; TestAptFallbackLimits covers the apt path on loopback)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the apt fallback test runs apt-get update and needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatalf("apt-get not found on a Debian CI machine: %v", err)
	}
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Apt = true
	f.Sink = rec
	// The private apt state is cached across runs, like a user's store.
	f.AptDir = filepath.Join(testCache(t), "apt")
	in := pgInput() // no URLs: only apt can provide it
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := f.Fetch(ctx, []lock.Input{in}); err != nil {
		t.Fatalf("%v\napt log:\n%s", err, rec.logs(in.Name))
	}
	t.Logf("apt fallback took %v", time.Since(start))
	if _, err := st.VerifyEntry(pgSHA256); err != nil {
		t.Fatal(err)
	}
	logs := rec.logs(in.Name)
	if !strings.Contains(logs, "from apt "+pgApt) {
		t.Errorf("logs:\n%s", logs)
	}
	// The system's apt configuration is untouched: the private sources
	// carry deb-src lines, the system's do not need to.
	conf, err := os.ReadFile(filepath.Join(f.AptDir, "etc", "sources.list"))
	if err != nil || !strings.Contains(string(conf), "deb-src ") {
		t.Errorf("private sources.list: %v\n%s", err, conf)
	}
	// A wrong sha256 through apt is a mismatch and stores nothing.
	st2 := newStore(t)
	f2 := fetcher(st2)
	f2.Apt = true
	f2.AptDir = f.AptDir
	bad := in
	bad.SHA256 = strings.Repeat("0", 64)
	var me *MismatchError
	err = f2.Fetch(ctx, []lock.Input{bad})
	if !errors.As(err, &me) || me.GotSHA256 != pgSHA256 {
		t.Fatalf("wrong sha through apt: %v", err)
	}
	assertNothingStored(t, st2)
}

func TestSystemAptSources(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "sources.list.d", "debian.sources"), []byte(`Types: deb
# comment
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://example/ignored
Suites: x
Components: main
`), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.list.d", "x.list"), []byte("deb [arch=amd64 signed-by=/k.gpg] http://x/ y main # c\n# deb http://off/ z main\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.list.d", "y.list.disabled"), []byte("deb http://disabled/ z main\n"), 0o644)
	got, err := SystemAptSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"deb [signed-by=/k.gpg] http://x/ y main",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main",
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main contrib",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseApt(t *testing.T) {
	a, err := parseApt(pgApt)
	if err != nil || a.name != "postgresql-15" || a.version != "15.18-0+deb12u1" || a.fileName() != pgFile {
		t.Errorf("source: %+v %v", a, err)
	}
	a, err = parseApt("binary:gcc-12:amd64=12.2.0-14+deb12u1")
	if err != nil || a.fileName() != "gcc-12_12.2.0-14+deb12u1_amd64.deb" {
		t.Errorf("binary: %+v %v", a, err)
	}
	a, err = parseApt("binary:perl-base:arm64=1:5.36.0-7")
	if err != nil || a.version != "1:5.36.0-7" || a.fileName() != "perl-base_1%3a5.36.0-7_arm64.deb" {
		t.Errorf("epoch: %+v %v", a, err)
	}
	for _, bad := range []string{"", "source:x", "binary:x=1", "other:x=1:f", "source:x=1:a/b"} {
		if _, err := parseApt(bad); err == nil {
			t.Errorf("parseApt(%q) accepted", bad)
		}
	}
}
