// Package indextest serves, on loopback, what the index crawlers read: a
// Debian archive with a signed InRelease and Sources index, and a directory
// laid out like ftp.postgresql.org's /pub/source/. Only tests import it.
package indextest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// Tree is a directory served over HTTP on loopback.
type Tree struct {
	Dir, URL string
}

// Serve serves a fresh temporary directory until the test ends.
func Serve(t testing.TB) *Tree {
	dir := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return &Tree{Dir: dir, URL: srv.URL}
}

// Write writes a file of the tree.
func (tr *Tree) Write(t testing.TB, path string, data []byte) {
	t.Helper()
	p := filepath.Join(tr.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Archive is a Debian archive signed by a key made for the test.
type Archive struct {
	*Tree
	key *openpgp.Entity
	// KeyringFile holds the armored public key (for --keyring).
	KeyringFile string
}

// NewArchive serves an empty archive.
func NewArchive(t testing.TB) *Archive {
	e, err := openpgp.NewEntity("monogres test archive", "", "archive@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Archive{Tree: Serve(t), key: e, KeyringFile: filepath.Join(t.TempDir(), "archive.asc")}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := os.WriteFile(a.KeyringFile, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// Source is one stanza of a Sources index.
type Source struct {
	Package, Version string
	Files            map[string][]byte // file name -> content (hashed; served only with Serve)
	// Binary defaults to PACKAGE-client, BuildDepends to debhelper-compat.
	Binary       []string
	BuildDepends string
	// Serve writes Files into the pool directory of the archive.
	Serve bool
}

func (s Source) dir() string { return "pool/main/" + s.Package[:1] + "/" + s.Package }

// Stanza renders s as Sources does.
func (s Source) Stanza() string {
	var b strings.Builder
	bin, bd := s.Package+"-client", "debhelper-compat (= 13)"
	if len(s.Binary) > 0 {
		bin = strings.Join(s.Binary, ", ")
	}
	if s.BuildDepends != "" {
		bd = s.BuildDepends
	}
	fmt.Fprintf(&b, "Package: %s\nBinary: %s\nVersion: %s\nMaintainer: Test <t@example.org>\nBuild-Depends: %s\nArchitecture: any\nFormat: 3.0 (quilt)\nDirectory: %s\nChecksums-Sha256:\n",
		s.Package, bin, s.Version, bd, s.dir())
	for _, name := range sortedKeys(s.Files) {
		sum := sha256.Sum256(s.Files[name])
		fmt.Fprintf(&b, " %s %d %s\n", hex.EncodeToString(sum[:]), len(s.Files[name]), name)
	}
	return b.String()
}

// Suite writes dists/SUITE/main/source/Sources.gz with the stanzas and an
// InRelease listing it, clearsigned by the archive's key.
func (a *Archive) Suite(t testing.TB, suite string, sources ...Source) {
	var text strings.Builder
	for i, s := range sources {
		if i > 0 {
			text.WriteString("\n")
		}
		text.WriteString(s.Stanza())
		if s.Serve {
			for name, b := range s.Files {
				a.Write(t, s.dir()+"/"+name, b)
			}
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text.String()))
	zw.Close()
	a.Write(t, "dists/"+suite+"/main/source/Sources.gz", gz.Bytes())
	a.Sign(t, suite, map[string][]byte{"main/source/Sources.gz": gz.Bytes(), "main/source/Sources": []byte(text.String())})
}

// Sign writes dists/SUITE/InRelease listing files (path -> content).
func (a *Archive) Sign(t testing.TB, suite string, files map[string][]byte) {
	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: Test\nSuite: %s\nCodename: %s\nDate: Tue, 01 Dec 2026 00:00:00 UTC\nSHA256:\n", suite, suite)
	for _, p := range sortedKeys(files) {
		sum := sha256.Sum256(files[p])
		fmt.Fprintf(&rel, " %s %d %s\n", hex.EncodeToString(sum[:]), len(files[p]), p)
	}
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, a.key.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(rel.String()))
	w.Close()
	a.Write(t, "dists/"+suite+"/InRelease", out.Bytes())
}

// Upstream writes vX.Y/postgresql-X.Y.tar.bz2 (content) and its .sha256,
// under pub/source/ of tr; it returns the directory URL.
func (tr *Tree) Upstream(t testing.TB, version string, content []byte) string {
	name := "postgresql-" + version + ".tar.bz2"
	sum := sha256.Sum256(content)
	tr.Write(t, "pub/source/v"+version+"/"+name, content)
	tr.Write(t, "pub/source/v"+version+"/"+name+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+name+"\n"))
	return tr.URL + "/pub/source/"
}

func sortedKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
