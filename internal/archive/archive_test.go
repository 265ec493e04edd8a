package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type ent struct {
	name, link, body string
	typ              byte
	mode             int64
	size             int64 // overrides len(body) when > 0 (for bombs: body from zeros)
}

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func tarBytes(t testing.TB, ents []ent) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i, e := range ents {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o640
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, ModTime: t0.Add(time.Duration(i) * time.Hour), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t testing.TB, f Format, raw []byte) []byte {
	var b bytes.Buffer
	switch f {
	case Tar:
		return raw
	case TarGz:
		w := gzip.NewWriter(&b)
		w.Write(raw)
		w.Close()
	case TarXz:
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		w.Close()
	case TarZst:
		w, _ := zstd.NewWriter(&b)
		w.Write(raw)
		w.Close()
	case TarBz2:
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Fatalf("bzip2 is needed to make a test .tar.bz2 (listed in .ci/apt-packages.txt): %v", err)
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(raw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	default:
		t.Fatalf("compress %s", f)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// listing describes a tree: path, type, mode, mtime, content or link target.
func listing(t testing.TB, dir string) []string {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", rel, fi.Mode(), fi.ModTime().Unix())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// names describes a tree by path, type and size (directory mtimes change
// when dest is created and removed, so they are left out).
func names(t testing.TB, dir string) []string {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size := fi.Size()
		if d.IsDir() {
			size = 0
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode().Type(), size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var goodTree = []ent{
	{name: "pkg-1.0/", typ: tar.TypeDir, mode: 0o700},
	{name: "pkg-1.0/README", body: "hello\n"},
	{name: "pkg-1.0/configure", body: "#!/bin/sh\n", mode: 0o750},
	{name: "pkg-1.0/src/deep/file.c", body: "int x;\n"},
	{name: "pkg-1.0/src/link", typ: tar.TypeSymlink, link: "deep/file.c"},
	{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/README"},
}

func TestExtractFormats(t *testing.T) {
	raw := tarBytes(t, goodTree)
	var first []string
	for _, f := range []Format{Tar, TarGz, TarBz2, TarXz, TarZst} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			arc := writeFile(t, dir, "a.archive", compress(t, f, raw))
			if got, err := Detect(arc); err != nil || got != f {
				t.Fatalf("Detect = %v, %v; want %s", got, err, f)
			}
			dest := filepath.Join(dir, "out")
			if err := Extract(context.Background(), arc, dest, Options{StripPrefix: "pkg-1.0"}); err != nil {
				t.Fatal(err)
			}
			got := listing(t, dest)
			if first == nil {
				first = got
			} else if !slices.Equal(got[1:], first[1:]) { // [0] is dest itself
				t.Errorf("%s differs from tar:\n%s\nvs\n%s", f, strings.Join(got, "\n"), strings.Join(first, "\n"))
			}
			b, err := os.ReadFile(filepath.Join(dest, "src/link"))
			if err != nil || string(b) != "int x;\n" {
				t.Errorf("symlink read = %q, %v", b, err)
			}
			var a, h syscall.Stat_t
			syscall.Stat(filepath.Join(dest, "README"), &a)
			syscall.Stat(filepath.Join(dest, "hard"), &h)
			if a.Ino != h.Ino {
				t.Errorf("hard is not a hardlink of README")
			}
		})
	}
	want := []string{
		". drwxr-xr-x " + fmt.Sprint(t0.Unix()),
		"README -rw-r--r-- " + fmt.Sprint(t0.Add(time.Hour).Unix()) + " hello\n",
		"configure -rwxr-xr-x " + fmt.Sprint(t0.Add(2*time.Hour).Unix()) + " #!/bin/sh\n",
		"hard -rw-r--r-- " + fmt.Sprint(t0.Add(time.Hour).Unix()) + " hello\n",
		"src drwxr-xr-x 0",
		"src/deep drwxr-xr-x 0",
		"src/deep/file.c -rw-r--r-- " + fmt.Sprint(t0.Add(3*time.Hour).Unix()) + " int x;\n",
		"src/link Lrwxrwxrwx " + fmt.Sprint(t0.Add(4*time.Hour).Unix()) + " -> deep/file.c",
	}
	// The root is the dest directory itself: its mode and time are not the
	// archive's. Compare the rest.
	if !slices.Equal(first[1:], want[1:]) {
		t.Errorf("listing:\n%s\nwant:\n%s", strings.Join(first, "\n"), strings.Join(want, "\n"))
	}
}

func TestExtractDeterministicAndMtime(t *testing.T) {
	dir := t.TempDir()
	arc := writeFile(t, dir, "a.tar.gz", compress(t, TarGz, tarBytes(t, goodTree)))
	fixed := time.Unix(1700000000, 0)
	var prev []string
	for i, mask := range []int{0o022, 0o077} {
		old := syscall.Umask(mask)
		dest := filepath.Join(dir, fmt.Sprint("out", i))
		err := Extract(context.Background(), arc, dest, Options{Mtime: fixed})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		got := listing(t, filepath.Join(dest, "pkg-1.0"))
		for _, l := range got {
			if !strings.Contains(l, " 1700000000") {
				t.Errorf("mtime not fixed: %s", l)
			}
		}
		if prev != nil && !slices.Equal(prev, got) {
			t.Errorf("umask changed the result:\n%v\n%v", prev, got)
		}
		prev = got
	}
}

// hostile runs Extract on a hostile archive and checks the error and that
// nothing exists outside dest (and dest itself was removed).
func hostile(t *testing.T, data []byte, opts Options, wantErr string) {
	t.Helper()
	parent := t.TempDir()
	work := filepath.Join(parent, "work")
	os.Mkdir(work, 0o755)
	arc := writeFile(t, parent, "evil.archive", data)
	dest := filepath.Join(work, "a", "b", "dest")
	os.MkdirAll(filepath.Dir(dest), 0o755)
	before := names(t, parent)
	err := Extract(context.Background(), arc, dest, opts)
	if err == nil {
		t.Fatalf("Extract accepted a hostile archive; tree:\n%s", strings.Join(names(t, parent), "\n"))
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q does not contain %q", err, wantErr)
	}
	if !strings.Contains(err.Error(), arc) {
		t.Errorf("error %q does not name the archive", err)
	}
	after := names(t, parent)
	if !slices.Equal(before, after) {
		t.Errorf("extraction left files behind:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if _, err := os.Stat("/tmp/monogres-evil"); err == nil {
		t.Errorf("/tmp/monogres-evil was written")
	}
	t.Logf("rejected: %v", err)
}

func TestHostileTar(t *testing.T) {
	cases := []struct {
		name    string
		ents    []ent
		wantErr string
	}{
		{"traversal", []ent{{name: "ok"}, {name: "../../../evil", body: "x"}}, `"../../../evil": path traversal`},
		{"traversal-inner", []ent{{name: "a/../../evil", body: "x"}}, "path traversal"},
		{"absolute", []ent{{name: "/tmp/monogres-evil", body: "x"}}, "absolute path"},
		{"symlink-escape-then-write", []ent{
			{name: "esc", typ: tar.TypeSymlink, link: "../../.."},
			{name: "esc/evil", body: "x"},
		}, `symlink to "../../.." leads outside the tree`},
		{"symlink-absolute", []ent{
			{name: "esc", typ: tar.TypeSymlink, link: "/tmp"},
			{name: "esc/monogres-evil", body: "x"},
		}, "leads outside the tree"},
		{"symlink-chain-write-through", []ent{
			// d -> . is inside; d/l -> ../x is lexically inside (x) but
			// physically outside; writing d/l/... must be refused.
			{name: "d", typ: tar.TypeSymlink, link: "."},
			{name: "d/l", typ: tar.TypeSymlink, link: "../evil"},
		}, `symlink to "../evil" leads outside the tree`},
		{"write-through-inner-symlink", []ent{
			{name: "real/", typ: tar.TypeDir},
			{name: "s", typ: tar.TypeSymlink, link: "real"},
			{name: "s/file", body: "x"},
		}, `refusing to write through symlink "s"`},
		{"hardlink-escape", []ent{{name: "h", typ: tar.TypeLink, link: "../../../etc/passwd"}}, "path traversal"},
		{"hardlink-absolute", []ent{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, "absolute path"},
		{"hardlink-to-symlink", []ent{
			{name: "s", typ: tar.TypeSymlink, link: "x"},
			{name: "h", typ: tar.TypeLink, link: "s"},
		}, "not a regular file extracted earlier"},
		{"char-device", []ent{{name: "null", typ: tar.TypeChar}}, "device file refused"},
		{"block-device", []ent{{name: "sda", typ: tar.TypeBlock}}, "device file refused"},
		{"fifo", []ent{{name: "p", typ: tar.TypeFifo}}, "FIFO refused"},
		{"outside-strip-prefix", []ent{{name: "pkg/a", body: "x"}, {name: "other/b", body: "y"}}, `outside strip_prefix "pkg"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{}
			if c.name == "outside-strip-prefix" {
				opts.StripPrefix = "pkg"
			}
			hostile(t, compress(t, TarGz, tarBytes(t, c.ents)), opts, c.wantErr)
		})
	}
}

func TestHostileLimits(t *testing.T) {
	many := make([]ent, 20)
	for i := range many {
		many[i] = ent{name: fmt.Sprint("f", i), body: "x"}
	}
	hostile(t, compress(t, TarGz, tarBytes(t, many)), Options{MaxFiles: 10}, "more than 10 entries (MaxFiles)")
	hostile(t, compress(t, TarGz, tarBytes(t, []ent{{name: "big", body: strings.Repeat("a", 5000)}})), Options{MaxBytes: 4096}, "exceed the 4096-byte limit (MaxBytes)")
}

// bomb writes a tar holding one file of n zero bytes, compressed with f,
// streaming so the test never holds it in memory.
func bomb(t *testing.T, f Format, n int64) string {
	p := filepath.Join(t.TempDir(), "bomb")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var cw io.WriteCloser
	switch f {
	case TarGz:
		cw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
	case TarZst:
		cw, _ = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	}
	tw := tar.NewWriter(cw)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: n, ModTime: t0})
	zero := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(zero)) {
		tw.Write(zero[:min(left, int64(len(zero)))])
	}
	tw.Close()
	cw.Close()
	out.Close()
	return p
}

func TestBomb(t *testing.T) {
	for _, f := range []Format{TarGz, TarZst} {
		t.Run(string(f), func(t *testing.T) {
			p := bomb(t, f, 1<<30)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("1 GiB of zeros as %s: %d bytes", f, len(data))
			// Default options: the ratio limit stops it after RatioFloor.
			start := time.Now()
			hostile(t, data, Options{}, "ratio limit (MaxRatio)")
			t.Logf("rejected in %v", time.Since(start))
			// With no ratio check, MaxBytes stops it before writing.
			hostile(t, data, Options{MaxRatio: -1, MaxBytes: 512 << 20}, "limit (MaxBytes)")
		})
	}
}

func TestZip(t *testing.T) {
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
	add("z/", os.ModeDir|0o755, "")
	add("z/run.sh", 0o700, "echo\n")
	add("z/l", os.ModeSymlink|0o777, "run.sh")
	zw.Close()
	dir := t.TempDir()
	arc := writeFile(t, dir, "a.zip", b.Bytes())
	dest := filepath.Join(dir, "out")
	if err := Extract(context.Background(), arc, dest, Options{StripPrefix: "z"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dest, "run.sh"))
	if err != nil || fi.Mode() != 0o755 {
		t.Fatalf("run.sh: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "l")); l != "run.sh" {
		t.Errorf("symlink = %q", l)
	}

	b.Reset()
	zw = zip.NewWriter(&b)
	add("../zip-evil", 0o644, "x")
	zw.Close()
	hostile(t, b.Bytes(), Options{}, "path traversal")
	b.Reset()
	zw = zip.NewWriter(&b)
	add("s", os.ModeSymlink|0o777, "../../x")
	zw.Close()
	hostile(t, b.Bytes(), Options{}, "leads outside the tree")
}

// arFile builds an ar archive (.deb layout).
func arFile(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m[0], 0, 0, 0, "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestDeb(t *testing.T) {
	data := compress(t, TarXz, tarBytes(t, []ent{{name: "./usr/", typ: tar.TypeDir}, {name: "./usr/bin/tool", body: "bin", mode: 0o755}}))
	control := compress(t, TarGz, tarBytes(t, []ent{{name: "./control", body: "Package: x\n"}}))
	deb := arFile([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", string(control)}, [2]string{"data.tar.xz", string(data)})
	dir := t.TempDir()
	arc := writeFile(t, dir, "x.deb", deb)
	dest := filepath.Join(dir, "out")
	if err := Extract(context.Background(), arc, dest, Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "usr/bin/tool")); err != nil || string(b) != "bin" {
		t.Fatalf("tool = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "control")); err == nil {
		t.Errorf("control member was extracted")
	}
	epoch, err := SourceDateEpoch(context.Background(), arc)
	if err != nil || epoch != t0.Add(time.Hour).Unix() {
		t.Errorf("SourceDateEpoch = %d, %v", epoch, err)
	}
	evil := arFile([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", string(compress(t, TarGz, tarBytes(t, []ent{{name: "./../evil", body: "x"}})))})
	hostile(t, evil, Options{}, "path traversal")
}

func TestSourceDateEpoch(t *testing.T) {
	dir := t.TempDir()
	arc := writeFile(t, dir, "a.tar.zst", compress(t, TarZst, tarBytes(t, goodTree)))
	got, err := SourceDateEpoch(context.Background(), arc)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(5 * time.Hour).Unix(); got != want {
		t.Errorf("SourceDateEpoch = %d, want %d", got, want)
	}
	if _, err := SourceDateEpoch(context.Background(), writeFile(t, dir, "junk", []byte("not an archive"))); err == nil || !strings.Contains(err.Error(), "not a supported archive") {
		t.Errorf("junk: %v", err)
	}
}

func TestDestNotEmpty(t *testing.T) {
	dir := t.TempDir()
	arc := writeFile(t, dir, "a.tar", tarBytes(t, goodTree))
	dest := filepath.Join(dir, "out")
	os.MkdirAll(dest, 0o755)
	writeFile(t, dest, "keep", []byte("x"))
	if err := Extract(context.Background(), arc, dest, Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "keep")); err != nil {
		t.Errorf("existing file removed: %v", err)
	}
}
