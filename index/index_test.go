package index

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/index/indextest"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
)

const sha186 = "555610c24d53e4316da5b7d3fc25c279d96856d5e0e23ee308c328c5fa881d9f" // the real 18.6 tarball

func builtin(t *testing.T) *manifest.Index {
	x, err := manifest.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestUpstream crawls a loopback server laid out like ftp.postgresql.org:
// a known release is confirmed, a new one is found with its size, betas and
// odd directories are skipped, and a re-rolled digest of a pinned release
// is a conflict, against the built-in index and against the index file.
func TestUpstream(t *testing.T) {
	tree := indextest.Serve(t)
	url := tree.Upstream(t, "18.7", []byte("postgresql 18.7 bytes"))
	tree.Write(t, "pub/source/v18.6/postgresql-18.6.tar.bz2.sha256", []byte(sha186+"  postgresql-18.6.tar.bz2\n"))
	tree.Write(t, "pub/source/v18beta1/postgresql-18beta1.tar.bz2.sha256", []byte("x"))
	tree.Write(t, "pub/source/README", []byte("x"))
	ctx := context.Background()
	found, err := Upstream{URL: url}.Crawl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("found %+v, want 18.6 and 18.7", found)
	}
	res := Merge(builtin(t), &manifest.IndexFile{}, found, nil)
	if len(res.Conflicts) != 0 || res.Confirmed != 1 || len(res.New) != 1 {
		t.Fatalf("merge: %+v", res)
	}
	n := res.New[0]
	if n.Version != "18.7" || n.Source != "tarball" || n.Size != int64(len("postgresql 18.7 bytes")) ||
		string(n.SHA256) != sha256Hex([]byte("postgresql 18.7 bytes")) || !strings.HasPrefix(n.Origins[0], "upstream "+url+"v18.7/postgresql-18.7.tar.bz2.sha256") {
		t.Errorf("new release %+v", n)
	}
	file := res.File

	// Re-crawling with the file changes nothing.
	again := Merge(builtin(t), &file, found, nil)
	if len(again.New) != 0 || again.Confirmed != 2 || len(again.Conflicts) != 0 {
		t.Errorf("second merge: %+v", again)
	}
	// A spec leaves out what it does not match.
	spec, _ := manifest.ParseSpec("<18.7")
	if r := Merge(builtin(t), &manifest.IndexFile{}, found, &spec); len(r.New) != 0 {
		t.Errorf("spec <18.7 added %+v", r.New)
	}

	// Upstream re-rolls both: 18.6 is pinned by the built-in index, 18.7 by the file.
	tree.Write(t, "pub/source/v18.6/postgresql-18.6.tar.bz2.sha256", []byte(strings.Repeat("6", 64)+"  postgresql-18.6.tar.bz2\n"))
	tree.Upstream(t, "18.7", []byte("postgresql 18.7 re-rolled"))
	found, err = Upstream{URL: url}.Crawl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res = Merge(builtin(t), &file, found, nil)
	if len(res.Conflicts) != 2 {
		t.Fatalf("conflicts %v, want 18.6 and 18.7", res.Conflicts)
	}
	if c := res.Conflicts[0]; c.Version != "18.6" || string(c.Pinned) != sha186 || c.PinnedFrom != "the built-in index" {
		t.Errorf("conflict %s", c)
	}
	if c := res.Conflicts[1]; c.Version != "18.7" || !strings.HasPrefix(c.PinnedFrom, manifest.IndexFileName) || c.Found != manifest.SHA256(sha256Hex([]byte("postgresql 18.7 re-rolled"))) {
		t.Errorf("conflict %s", c)
	}
	if r := res.File.Postgres[0]; string(r.SHA256) != sha256Hex([]byte("postgresql 18.7 bytes")) {
		t.Errorf("the conflicting digest was written: %+v", r)
	}

	tree.Write(t, "pub/source/v18.7/postgresql-18.7.tar.bz2.sha256", []byte("not a digest\n"))
	if _, err := (Upstream{URL: url}).Crawl(ctx); err == nil || !strings.Contains(err.Error(), "postgresql-18.7.tar.bz2.sha256") {
		t.Errorf("bad .sha256: %v", err)
	}
}

// TestDebian reads a loopback archive whose InRelease is signed by a key
// made here: the postgresql-NN orig tarballs become releases with Debian's
// sha256, size and an apt hint naming the newest revision; a Sources index
// changed after signing, and an archive signed by an untrusted key, are
// refused.
func TestDebian(t *testing.T) {
	a := indextest.NewArchive(t)
	a.Suite(t, "sid",
		indextest.Source{Package: "postgresql-18", Version: "18.7-1", Files: map[string][]byte{
			"postgresql-18_18.7.orig.tar.bz2": []byte("pg 18.7"), "postgresql-18_18.7-1.debian.tar.xz": []byte("debian 1")}},
		indextest.Source{Package: "postgresql-18", Version: "18.7-2", Files: map[string][]byte{
			"postgresql-18_18.7.orig.tar.bz2": []byte("pg 18.7"), "postgresql-18_18.7-2.debian.tar.xz": []byte("debian 2")}},
		indextest.Source{Package: "postgresql-common", Version: "287", Files: map[string][]byte{"postgresql-common_287.tar.xz": []byte("c")}},
		indextest.Source{Package: "postgresql-16", Version: "16.20-1", Files: map[string][]byte{"postgresql-18_18.9.orig.tar.bz2": []byte("misfiled")}},
	)
	kr := keyring(t, a.KeyringFile)
	ctx := context.Background()
	found, err := Debian{Archive: a.URL, Suite: "sid", Keyring: kr}.Crawl(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %+v, want 18.7 once", found)
	}
	f := found[0]
	if f.Version != "18.7" || f.Source != "tarball" || string(f.SHA256) != sha256Hex([]byte("pg 18.7")) || f.Size != 7 ||
		f.Apt != "source:postgresql-18=18.7-2:postgresql-18_18.7.orig.tar.bz2" || !strings.HasPrefix(f.Origin, "debian sid Sources (signed by ") {
		t.Errorf("found %+v", f)
	}

	// The attack: Sources.gz replaced after signing.
	good, _ := os.ReadFile(filepath.Join(a.Dir, "dists/sid/main/source/Sources.gz"))
	var evil bytes.Buffer
	zw := gzip.NewWriter(&evil)
	zw.Write([]byte(indextest.Source{Package: "postgresql-18", Version: "18.7-3", Files: map[string][]byte{"postgresql-18_18.7.orig.tar.bz2": []byte("evil")}}.Stanza()))
	zw.Close()
	a.Write(t, "dists/sid/main/source/Sources.gz", evil.Bytes())
	if _, err := (Debian{Archive: a.URL, Suite: "sid", Keyring: kr}).Crawl(ctx); err == nil || !strings.Contains(err.Error(), "Sources.gz") {
		t.Errorf("tampered Sources.gz: %v", err)
	}
	a.Write(t, "dists/sid/main/source/Sources.gz", good)
	// Debian's keys do not trust the test key.
	if _, err := (Debian{Archive: a.URL, Suite: "sid"}).Crawl(ctx); !errors.Is(err, debarchive.ErrUnsigned) {
		t.Errorf("untrusted key: %v, want ErrUnsigned", err)
	}
	// An InRelease of another suite served under sid.
	a.Suite(t, "bookworm")
	inrel, _ := os.ReadFile(filepath.Join(a.Dir, "dists/bookworm/InRelease"))
	a.Write(t, "dists/sid/InRelease", inrel)
	if _, err := (Debian{Archive: a.URL, Suite: "sid", Keyring: kr}).Crawl(ctx); err == nil || !strings.Contains(err.Error(), "bookworm") {
		t.Errorf("suite swap: %v", err)
	}
}

// TestDebianReal reads deb.debian.org's signed sid and bookworm Sources:
// the 18.6 and 15.18 tarballs are found with the sha256 and size the
// built-in index pins.
func TestDebianReal(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian's sid and bookworm Sources indexes (~20 MB)")
	}
	ctx := context.Background()
	for suite, want := range map[string]struct {
		version, sha string
		size         int64
	}{
		"sid":      {"18.6", sha186, 22632314},
		"bookworm": {"15.18", "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4", 23405115},
	} {
		found, err := Debian{Archive: "https://deb.debian.org/debian", Suite: suite}.Crawl(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, f := range found {
			if f.Version == want.version {
				ok = string(f.SHA256) == want.sha && f.Size == want.size
				t.Logf("%s: %s %s %d %s", suite, f.Version, f.SHA256, f.Size, f.Apt)
			}
		}
		if !ok {
			t.Errorf("%s: %s not found with sha256 %s size %d in %+v", suite, want.version, want.sha, want.size, found)
		}
		if res := Merge(builtin(t), &manifest.IndexFile{}, found, nil); len(res.Conflicts) != 0 {
			t.Errorf("%s: conflicts with the built-in index: %v", suite, res.Conflicts)
		}
	}
}

// TestGit archives the release tags of a repository made here as GitHub
// does and checks the result against the archive computed by hand with
// git and gzip on the command line, and its gzip header and contents.
func TestGit(t *testing.T) {
	for _, tool := range []string{"git", "gzip", "sh", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.org", "GIT_AUTHOR_DATE=2026-11-09T12:00:00Z", "GIT_COMMITTER_DATE=2026-11-09T12:00:00Z", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "master")
	os.WriteFile(filepath.Join(repo, "README"), []byte("PostgreSQL 18.7\n"), 0o644)
	os.MkdirAll(filepath.Join(repo, "src"), 0o755)
	os.WriteFile(filepath.Join(repo, "src", "configure"), []byte("#!/bin/sh\n"), 0o755)
	git("add", ".")
	git("commit", "-q", "-m", "Stamp 18.7")
	git("tag", "-a", "-m", "release", "REL_18_7")
	commit := git("rev-parse", "HEAD")
	git("tag", "REL9_6_24")
	git("tag", "REL_18_BETA1")
	git("tag", "not-a-release")

	g := Git{Repo: repo}
	found, err := g.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Version != "9.6.24" || found[1].Version != "18.7" || found[1].Tag != "REL_18_7" || found[1].Source != "github" {
		t.Fatalf("found %+v, want 9.6.24 and 18.7 (REL_18_7)", found)
	}
	found = found[1:]
	hand, err := exec.Command("sh", "-c", `git -C "$1" archive --format=tar --prefix=postgres-REL_18_7/ REL_18_7 | gzip -n | sha256sum`, "sh", repo).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(string(hand))[0]; string(found[0].SHA256) != want {
		t.Errorf("tag archive sha256 %s, hand-computed %s", found[0].SHA256, want)
	}

	var buf bytes.Buffer
	if err := g.WriteTagArchive(context.Background(), "REL_18_7", &buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if b[0] != 0x1f || b[1] != 0x8b || b[3]&0x08 != 0 || !bytes.Equal(b[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header % x: want no file name and no time stamp", b[:10])
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.PAXRecords["comment"] != "" && h.PAXRecords["comment"] != commit {
			t.Errorf("pax comment %q, want the commit id %s", h.PAXRecords["comment"], commit)
		}
		c, _ := io.ReadAll(tr)
		files[h.Name] = string(c)
	}
	if files["postgres-REL_18_7/README"] != "PostgreSQL 18.7\n" || files["postgres-REL_18_7/src/configure"] != "#!/bin/sh\n" {
		t.Errorf("archive entries %v", files)
	}
	if _, err := g.TagArchiveSHA256(context.Background(), "REL_18_8"); err == nil || !strings.Contains(err.Error(), "REL_18_8") {
		t.Errorf("missing tag: %v", err)
	}
}

func TestTagVersion(t *testing.T) {
	for tag, want := range map[string]string{"REL_18_6": "18.6", "REL_10_0": "10.0", "REL9_6_24": "9.6.24", "REL_18_BETA1": "", "REL_9_6": "", "REL10_1_2": "", "REL_18_6_1": ""} {
		v, ok := tagVersion(tag)
		if got := map[bool]string{true: v.String(), false: ""}[ok]; got != want {
			t.Errorf("tagVersion(%s) = %q, want %q", tag, got, want)
		}
	}
}

func keyring(t *testing.T, path string) *debarchive.Keyring {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kr, err := debarchive.ReadKeyring(f)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
