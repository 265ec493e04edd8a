package build

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// makeTree writes the same logical tree with the given file modes and
// mtimes, creating entries in the given order.
func makeTree(t *testing.T, dir string, execMode, plainMode os.FileMode, mtime time.Time, reverse bool) {
	t.Helper()
	type ent struct{ path, content string }
	ents := []ent{{"bin/postgres", "ELF..."}, {"lib/libpq.so.5.15", "lib"}, {"share/extension/hstore.control", "ctl"}, {"include/a.h", ""}}
	if reverse {
		for i, j := 0, len(ents)-1; i < j; i, j = i+1, j-1 {
			ents[i], ents[j] = ents[j], ents[i]
		}
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		mode := plainMode
		if filepath.Base(filepath.Dir(p)) == "bin" {
			mode = execMode
		}
		if err := os.WriteFile(p, []byte(e.content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chtimes(p, mtime, mtime)
	}
	if err := os.Symlink("libpq.so.5.15", filepath.Join(dir, "lib/libpq.so.5")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "bin/postgres"), filepath.Join(dir, "bin/postmaster")); err != nil {
		t.Fatal(err)
	}
}

func packTree(t *testing.T, dir string) ([]byte, []FileEntry) {
	t.Helper()
	var b bytes.Buffer
	files, err := Pack(context.Background(), dir, 1700000000, &b)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), files
}

func TestPackDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	makeTree(t, a, 0o755, 0o644, time.Unix(1, 0), false)
	makeTree(t, b, 0o700, 0o600, time.Now(), true)
	pa, fa := packTree(t, a)
	pb, fb := packTree(t, b)
	if !bytes.Equal(pa, pb) {
		t.Fatalf("same tree with other modes, mtimes and creation order packed differently")
	}
	if d := cmp.Diff(fa, fb); d != "" {
		t.Errorf("entries differ:\n%s", d)
	}
	wantPaths := []string{"bin", "bin/postgres", "bin/postmaster", "include", "include/a.h", "lib", "lib/libpq.so.5", "lib/libpq.so.5.15", "share", "share/extension", "share/extension/hstore.control"}
	var got []string
	for _, f := range fa {
		got = append(got, f.Path)
	}
	if d := cmp.Diff(wantPaths, got); d != "" {
		t.Errorf("paths (-want +got):\n%s", d)
	}

	zr, err := zstd.NewReader(bytes.NewReader(pa))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		wantMode := map[string]int64{"bin/": 0o755, "bin/postgres": 0o755, "bin/postmaster": 0o755, "lib/libpq.so.5": 0o777, "include/a.h": 0o644}
		if m, ok := wantMode[h.Name]; ok && h.Mode != m {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, m)
		}
		if h.ModTime.Unix() != 1700000000 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d uname %q gname %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.Name == "lib/libpq.so.5" && (h.Typeflag != tar.TypeSymlink || h.Linkname != "libpq.so.5.15") {
			t.Errorf("symlink stored as %c -> %q", h.Typeflag, h.Linkname)
		}
		if h.Name == "bin/postmaster" && h.Typeflag != tar.TypeReg {
			t.Errorf("hard link stored as type %c, want a regular file", h.Typeflag)
		}
	}

	// A changed byte changes the package and shows in DiffFiles.
	os.WriteFile(filepath.Join(b, "include/a.h"), []byte("x"), 0o644)
	pc, fc := packTree(t, b)
	if bytes.Equal(pa, pc) {
		t.Fatal("changed content packed to the same bytes")
	}
	diff := DiffFiles(fa, fc)
	if len(diff) != 1 || diff[0].Path != "include/a.h" || diff[0].A.Size != 0 || diff[0].B.Size != 1 {
		t.Errorf("DiffFiles = %+v", diff)
	}
}

func TestPackRejectsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	if _, err := Pack(context.Background(), dir, 0, io.Discard); err == nil {
		t.Error("packed a socket")
	}
}

func TestDiffFiles(t *testing.T) {
	a := []FileEntry{{Path: "a", Type: "file", SHA256: "1"}, {Path: "b", Type: "file", SHA256: "2"}, {Path: "d", Type: "dir"}}
	b := []FileEntry{{Path: "b", Type: "file", SHA256: "3"}, {Path: "c", Type: "file"}, {Path: "d", Type: "dir"}}
	want := []FileDiff{{Path: "a", A: a[0]}, {Path: "b", A: a[1], B: b[0]}, {Path: "c", B: b[1]}}
	if d := cmp.Diff(want, DiffFiles(a, b)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
