package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/index/indextest"
	"github.com/monogres/monogres/internal/manifest"
)

// TestIndexUpdateCheck runs `monogres index update` against a loopback
// Debian archive (signed by a test key) and an ftp.postgresql.org-like
// directory: it adds 18.7, which `monogres plan` then resolves; when
// upstream re-rolls 18.7, `monogres index check` fails naming both digests
// and `index update` refuses to write the new one.
func TestIndexUpdateCheck(t *testing.T) {
	a := indextest.NewArchive(t)
	a.Suite(t, "sid", indextest.Source{Package: "postgresql-18", Version: "18.7-1",
		Files: map[string][]byte{"postgresql-18_18.7.orig.tar.bz2": []byte("pg 18.7")}})
	up := indextest.Serve(t)
	upURL := up.Upstream(t, "18.7", []byte("pg 18.7"))
	up.Upstream(t, "18.8", []byte("pg 18.8"))

	dir := t.TempDir()
	m := filepath.Join(dir, "monogres.toml")
	toml := "[postgres]\nversions = [\"18.*\"]\n\n[toolchain]\narchive = \"" + a.URL + "\"\nsuite = \"sid\"\n\n[index]\nupstream = \"" + upURL + "\"\npostgres = \">=18.7\"\n"
	if err := os.WriteFile(m, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"--manifest", m}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run("index", "check", "--keyring", a.KeyringFile)
	if code != 0 || !strings.Contains(out, "new: 18.7 tarball") || !strings.Contains(out, "new: 18.8 tarball") {
		t.Fatalf("index check: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, manifest.IndexFileName)); err == nil {
		t.Fatal("index check wrote the index file")
	}
	code, out, errs = run("index", "update", "--keyring", a.KeyringFile)
	if code != 0 || !strings.Contains(out, "wrote ") {
		t.Fatalf("index update: exit %d\n%s%s", code, out, errs)
	}
	f, err := manifest.ReadIndexFile(filepath.Join(dir, manifest.IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Postgres) != 2 || f.Postgres[0].Version != "18.7" || len(f.Postgres[0].Origins) != 2 || f.Postgres[0].Size != 7 ||
		f.Postgres[0].Apt != "source:postgresql-18=18.7-1:postgresql-18_18.7.orig.tar.bz2" {
		t.Fatalf("index file %+v", f.Postgres)
	}
	code, out, _ = run("plan", "postgres~18.*~barebones~amd64")
	if code != 0 || !strings.Contains(out, "postgres~18.8~barebones~amd64") {
		t.Errorf("plan after index update: exit %d\n%s", code, out)
	}
	// Debian's signature is required: without the test key the run fails.
	if code, _, errs = run("index", "check"); code != 1 || !strings.Contains(errs, "not signed by a trusted key") {
		t.Errorf("index check without the archive key: exit %d %s", code, errs)
	}

	before, _ := os.ReadFile(filepath.Join(dir, manifest.IndexFileName))
	up.Upstream(t, "18.7", []byte("pg 18.7, re-rolled"))
	for _, sub := range []string{"check", "update"} {
		code, out, errs = run("index", sub, "--keyring", a.KeyringFile)
		if code != 1 || !strings.Contains(errs, "18.7 tarball: upstream "+upURL+"v18.7/postgresql-18.7.tar.bz2.sha256 says sha256 ") ||
			!strings.Contains(errs, "but "+manifest.IndexFileName) {
			t.Errorf("index %s after a re-roll: exit %d\n%s%s", sub, code, out, errs)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, manifest.IndexFileName)); !bytes.Equal(before, after) {
		t.Errorf("index update changed the file after a conflict:\n%s", after)
	}
	if code, _, errs = run("index", "bogus"); code != exitUsage {
		t.Errorf("index bogus: exit %d %s", code, errs)
	}
}
