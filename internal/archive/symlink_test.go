package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// twoStep is issue 10 finding 2: each link is lexically inside the tree,
// but d1/…/d8/s resolves to the tree's root, so secret climbs nine levels
// from there and reaches /etc/shadow.
var (
	twoStepDeep   = "d1/d2/d3/d4/d5/d6/d7/d8"
	twoStepUp     = strings.Repeat("../", 7) + ".."
	twoStepSecret = twoStepDeep + "/s/" + strings.Repeat("../", 9) + "etc/shadow"
)

func TestTwoStepSymlinkTar(t *testing.T) {
	ents := []ent{
		{name: twoStepDeep + "/", typ: tar.TypeDir},
		{name: twoStepDeep + "/s", typ: tar.TypeSymlink, link: twoStepUp},
		{name: "secret", typ: tar.TypeSymlink, link: twoStepSecret},
	}
	hostile(t, compress(t, TarGz, tarBytes(t, ents)), Options{}, `symlink to "`+twoStepSecret+`" leads outside the tree`)
}

func TestTwoStepSymlinkZip(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	add := func(name string, mode os.FileMode, body string) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: t0}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	add(twoStepDeep+"/", os.ModeDir|0o755, "")
	add(twoStepDeep+"/s", os.ModeSymlink|0o777, twoStepUp)
	add("secret", os.ModeSymlink|0o777, twoStepSecret)
	zw.Close()
	hostile(t, b.Bytes(), Options{}, "leads outside the tree")
}

// A link checked against the tree as it was can be redirected by a later
// entry replacing a link it goes through: the final tree is checked too.
func TestSymlinkRedirectedLater(t *testing.T) {
	ents := []ent{
		{name: "a/b/", typ: tar.TypeDir},
		{name: "a/b/s", typ: tar.TypeSymlink, link: "."}, // a/b
		{name: "secret", typ: tar.TypeSymlink, link: "a/b/s/../../etc/shadow"},
		{name: "a/b/s", typ: tar.TypeSymlink, link: "../.."}, // now the root: secret is ../etc/shadow
	}
	hostile(t, compress(t, TarGz, tarBytes(t, ents)), Options{}, "leads outside the tree")
}

// Links that resolve inside, through other links, still extract.
func TestSymlinkChainsInside(t *testing.T) {
	ents := []ent{
		{name: "x/y/file", body: "hello"},
		{name: "x/y/up", typ: tar.TypeSymlink, link: ".."}, // x
		{name: "via", typ: tar.TypeSymlink, link: "x/y/up/y/file"},
		{name: "loopa", typ: tar.TypeSymlink, link: "loopb"},
		{name: "loopb", typ: tar.TypeSymlink, link: "loopa"},
		{name: "dangling", typ: tar.TypeSymlink, link: "no/such/file"},
	}
	dir := t.TempDir()
	arc := writeFile(t, dir, "ok.tar", tarBytes(t, ents))
	dest := dir + "/out"
	if err := Extract(t.Context(), arc, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(dest + "/via"); err != nil || string(b) != "hello" {
		t.Fatalf("via = %q, %v", b, err)
	}
}

func TestDecompress(t *testing.T) {
	raw := bytes.Repeat([]byte("monogres "), 1000)
	var l bytes.Buffer
	lw := lz4.NewWriter(&l)
	lw.Write(raw)
	lw.Close()
	cases := map[string][]byte{
		"": raw, ".gz": compress(t, TarGz, raw), ".xz": compress(t, TarXz, raw),
		".zst": compress(t, TarZst, raw), ".bz2": compress(t, TarBz2, raw), ".lz4": l.Bytes(),
	}
	for ext, data := range cases {
		rc, err := Decompress(ext, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%q: %v", ext, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%q: got %d bytes, %v", ext, len(got), err)
		}
	}
	if _, err := Decompress(".rar", bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), `".rar"`) {
		t.Errorf("unknown compression: %v", err)
	}
}
