package toolchains

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/testenv"
)

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

// makeDeb builds a .deb (ar: debian-binary, control.tar.gz, data.tar.gz).
func makeDeb(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	targz := func(es []tarEntry) []byte {
		var b bytes.Buffer
		gz := gzip.NewWriter(&b)
		tw := tar.NewWriter(gz)
		for _, e := range es {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, e.body)
		}
		tw.Close()
		gz.Close()
		return b.Bytes()
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar.gz", targz([]tarEntry{{name: "./control", typ: tar.TypeReg, body: "Package: x\n"}})},
		{"data.tar.gz", targz(entries)},
	} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, 0, 0, 0, 0o644, len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	return ar.Bytes()
}

func memOpener(debs map[string][]byte) Opener {
	return func(_ context.Context, p Package) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(debs[p.Name])), nil
	}
}

func pkgFor(name string, deb []byte) Package {
	s := sha256.Sum256(deb)
	return Package{Name: name, Version: "1", Arch: "amd64", SHA256: hex.EncodeToString(s[:]), Size: int64(len(deb))}
}

// Hostile .debs must not write outside dest: symlinks are followed as in
// a chroot, and ".." names are refused.
func TestComposeHostile(t *testing.T) {
	outer := t.TempDir()
	dest := filepath.Join(outer, "root")
	evil := makeDeb(t, []tarEntry{
		{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		// A link to the host's root, then a file through it.
		{name: "./usr/up", typ: tar.TypeSymlink, link: "../../../../.."},
		{name: "./usr/up/escaped-rel", typ: tar.TypeReg, body: "x"},
		{name: "./usr/abs", typ: tar.TypeSymlink, link: outer},
		{name: "./usr/abs/escaped-abs", typ: tar.TypeReg, body: "x"},
		// A link whose target is replaced by a file: writing must replace
		// the link, not write through it.
		{name: "./etc/victim", typ: tar.TypeSymlink, link: filepath.Join(outer, "victim")},
		{name: "./etc/victim", typ: tar.TypeReg, body: "replaced"},
		{name: "./bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o4755},
		{name: "./usr/hard", typ: tar.TypeLink, link: "./usr/bin/tool"},
	})
	p := pkgFor("evil", evil)
	r, err := Compose(context.Background(), []Package{p}, memOpener(map[string][]byte{"evil": evil}), dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"escaped-rel", "escaped-abs", "victim"} {
		if _, err := os.Lstat(filepath.Join(outer, f)); err == nil {
			t.Errorf("%s written outside the root", f)
		}
	}
	// Inside, the files land where a chroot would put them.
	for _, f := range []string{"escaped-rel", filepath.Join(outer, "escaped-abs")} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("want /%s inside the root: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/victim")); string(b) != "replaced" {
		t.Errorf("etc/victim = %q", b)
	}
	// /bin/tool went to usr/bin (merged /usr), setuid dropped, hard link kept.
	fi, err := os.Lstat(filepath.Join(dest, "usr/bin/tool"))
	if err != nil || fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("usr/bin/tool: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "bin")); l != "usr/bin" {
		t.Errorf("/bin -> %q, want usr/bin", l)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Nlink != 2 {
		t.Errorf("usr/bin/tool has %d links, want 2 (usr/hard)", st.Nlink)
	}
	if fi.ModTime().Unix() != RootEpoch.Unix() {
		t.Errorf("mtime %v, want %v", fi.ModTime(), RootEpoch)
	}
	if d, _ := DigestTree(dest); d != r.Digest {
		t.Errorf("DigestTree = %s, Compose said %s", d, r.Digest)
	}

	for _, name := range []string{"../outside", "./usr/../../outside"} {
		deb := makeDeb(t, []tarEntry{{name: name, typ: tar.TypeReg, body: "x"}})
		_, err := Compose(context.Background(), []Package{pkgFor("dotdot", deb)}, memOpener(map[string][]byte{"dotdot": deb}), filepath.Join(outer, "r2-"+fmt.Sprint(len(name))), Options{})
		if err == nil || !strings.Contains(err.Error(), `path traversal ("..")`) {
			t.Errorf("%s: err = %v, want a \"..\" error", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(outer), "outside")); err == nil {
		t.Error("../outside written")
	}

	// A wrong sha256 is refused.
	bad := p
	bad.SHA256 = strings.Repeat("0", 64)
	_, err = Compose(context.Background(), []Package{bad}, memOpener(map[string][]byte{"evil": evil}), filepath.Join(outer, "r3"), Options{})
	if err == nil || !strings.Contains(err.Error(), "want sha256 0000") {
		t.Errorf("bad sha256: err = %v", err)
	}
}

// gccRequest is the smallest root that compiles C: the base set, gcc,
// libc6-dev and make.
func gccRequest() Request {
	return Request{Arch: "amd64", Packages: slices.Concat(BasePackages, []string{"gcc", "libc6-dev", "make"})}
}

func crossRequest() Request {
	return Request{Arch: "amd64", Packages: slices.Concat(BasePackages, []string{"make", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "qemu-user-static"})}
}

func resolveAndFetch(t testing.TB, req Request) ([]Package, Opener) {
	t.Helper()
	pkgs, err := Resolve(bookwormIndex(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, debCache(t, pkgs)
}

// inRoot runs argv chrooted into root with a built environment: nothing of
// the host's /usr, /lib or /etc is visible.
func inRoot(t *testing.T, root string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Path = argv[0] // resolved inside the chroot, not on the host
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/root", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in root: %q: %v\n%s", argv, err, out)
	}
	return string(out)
}

const helloC = `#include <stdio.h>
int main(void) { printf("hello from %s\n", sizeof(void*) == 8 ? "64-bit" : "32-bit"); return 0; }
`

func TestComposeGCCRoot(t *testing.T) {
	testenv.RequireRoot(t, "chroot and apt-get")
	pkgs, open := resolveAndFetch(t, gccRequest())
	root := filepath.Join(t.TempDir(), "root")
	if _, err := Compose(context.Background(), pkgs, open, root, DefaultOptions); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp/hello.c"), []byte(helloC), 0o644); err != nil {
		t.Fatal(err)
	}
	// The chroot has no host compiler: prove the compiler and libc the
	// program uses are the root's by listing what gcc loads.
	out := inRoot(t, root, "/bin/sh", "-c", "cd /tmp && gcc -o hello hello.c && ./hello && readlink /usr/bin/cc /bin/sh /usr/bin/awk && ls /usr/lib/gcc/x86_64-linux-gnu && test ! -e /etc/ld.so.cache && echo no-ld.so.cache")
	t.Logf("chroot output:\n%s", out)
	for _, want := range []string{"hello from 64-bit\n", "gcc\ndash\nmawk\n", "12\n", "no-ld.so.cache"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	f, err := elf.Open(filepath.Join(root, "tmp/hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("hello is %v, want x86-64", f.Machine)
	}
}

func TestComposeArm64CrossRoot(t *testing.T) {
	testenv.RequireRoot(t, "chroot and apt-get")
	pkgs, open := resolveAndFetch(t, crossRequest())
	root := filepath.Join(t.TempDir(), "root")
	if _, err := Compose(context.Background(), pkgs, open, root, DefaultOptions); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp/hello.c"), []byte(helloC), 0o644); err != nil {
		t.Fatal(err)
	}
	out := inRoot(t, root, "/bin/sh", "-c", "cd /tmp && aarch64-linux-gnu-gcc -o hello hello.c && qemu-aarch64-static -L /usr/aarch64-linux-gnu ./hello")
	if out != "hello from 64-bit\n" {
		t.Errorf("qemu output %q, want %q", out, "hello from 64-bit\n")
	}
	f, err := elf.Open(filepath.Join(root, "tmp/hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("hello is %v, want AArch64", f.Machine)
	}
}

// The same package set composed under two stores gives the same digest,
// and the second ComposeCached call is a cache hit.
func TestComposeCachedDeterministic(t *testing.T) {
	testenv.RequireRoot(t, "chroot and apt-get")
	pkgs, open := resolveAndFetch(t, gccRequest())
	ctx := context.Background()
	var digests []string
	for _, store := range []string{t.TempDir(), t.TempDir()} {
		r, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cached || r.Dir != filepath.Join(store, "roots", r.Key, "root") {
			t.Errorf("first compose: %+v", r)
		}
		d, err := DigestTree(r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if d != r.Digest {
			t.Errorf("recomputed digest %s != %s", d, r.Digest)
		}
		digests = append(digests, d)
		again, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions)
		if err != nil || !again.Cached || again.Digest != r.Digest || again.Dir != r.Dir {
			t.Errorf("second compose: %+v, %v; want a cache hit of %+v", again, err, r)
		}
		tmp, _ := os.ReadDir(filepath.Join(store, "tmp"))
		if len(tmp) != 0 {
			t.Errorf("store tmp/ not cleaned: %v", tmp)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %s vs %s", digests[0], digests[1])
	}
	// A different package set has a different key.
	if Key(pkgs, DefaultOptions) == Key(pkgs[1:], DefaultOptions) || Key(pkgs, DefaultOptions) == Key(pkgs, Options{}) {
		t.Error("Key ignores packages or options")
	}
}

func BenchmarkComposeAmd64(b *testing.B) {
	testenv.RequireRoot(b, "chroot and apt-get")
	req := gccRequest()
	pkgs, open := resolveAndFetch(b, req)
	if os.Getenv("MONOGRES_BENCH_FULL") != "" {
		res, err := ResolveSpec(bookwormIndex(b), DefaultSpec("amd64"), nil)
		if err != nil {
			b.Fatal(err)
		}
		if pkgs, err = res.Packages(Cell{Target: "amd64", Options: slices.Collect(maps.Keys(optionPackages))}); err != nil {
			b.Fatal(err)
		}
		open = debCache(b, pkgs)
	}
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		var size int64
		for i := 0; b.Loop(); i++ {
			store := b.TempDir()
			r, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions)
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				size = treeSize(b, r.Dir)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/compose")
		b.ReportMetric(float64(size)/1e6, "MB/root")
		b.ReportMetric(float64(len(pkgs)), "packages")
	})
	b.Run("cached", func(b *testing.B) {
		store := b.TempDir()
		if _, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			r, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions)
			if err != nil || !r.Cached {
				b.Fatalf("%+v %v", r, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/compose")
	})
}

func treeSize(t testing.TB, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// extensionDevs are 20 bookworm -dev packages of the kind extensions need.
var extensionDevs = []string{
	"libmemcached-dev", "libsasl2-dev", "libgeos-dev", "libprotobuf-c-dev", "libjson-c-dev",
	"libpcre2-dev", "libgmp-dev", "libmpfr-dev", "libyaml-dev", "libsodium-dev",
	"libhiredis-dev", "libcjson-dev", "libxxhash-dev", "libsqlite3-dev", "libev-dev",
	"libevent-dev", "libmsgpack-dev", "libzmq3-dev", "libmariadb-dev", "libtiff-dev",
}

// diskUsage is the disk space under dirs, each inode counted once.
func diskUsage(t testing.TB, dirs ...string) int64 {
	seen := map[uint64]bool{}
	var n int64
	for _, d := range dirs {
		filepath.Walk(d, func(_ string, fi os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			if !seen[st.Ino] {
				seen[st.Ino] = true
				n += st.Blocks * 512
			}
			return nil
		})
	}
	return n
}

// The roots of 20 extension cells (each: the amd64 base, the regular
// option set's layers and one extension's -dev package) against one such
// root: the pool stores every shared file once.
func BenchmarkExtensionRootsDisk(b *testing.B) {
	testenv.RequireRoot(b, "real toolchain roots")
	idx := bookwormIndex(b)
	spec := DefaultSpec("amd64")
	for _, dev := range extensionDevs {
		spec.Layers = append(spec.Layers, Layer{Name: ExtensionLayer("amd64", dev), Target: "amd64", Packages: []string{dev}, Base: "amd64", Optional: true})
	}
	res, err := ResolveSpec(idx, spec, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Dropped) > 0 {
		b.Fatalf("dropped: %v", res.Dropped)
	}
	regular := []string{"nls", "readline", "openssl", "uuid", "zlib", "icu", "llvm", "lz4", "plpython", "systemd", "zstd"}
	var sets [][]Package
	var all []Package
	for _, dev := range extensionDevs {
		pkgs, err := res.Packages(Cell{Target: "amd64", Options: regular, Extension: dev})
		if err != nil {
			b.Fatal(err)
		}
		sets = append(sets, pkgs)
		all = append(all, pkgs...)
	}
	open := debCache(b, all)
	ctx := context.Background()
	for b.Loop() {
		one := b.TempDir()
		if _, err := ComposeCached(ctx, one, sets[0], open, DefaultOptions); err != nil {
			b.Fatal(err)
		}
		store := b.TempDir()
		start := time.Now()
		keys := map[string]bool{}
		for _, pkgs := range sets {
			r, err := ComposeCached(ctx, store, pkgs, open, DefaultOptions)
			if err != nil {
				b.Fatal(err)
			}
			keys[r.Key] = true
		}
		if len(keys) != len(sets) {
			b.Fatalf("%d distinct roots for %d package sets", len(keys), len(sets))
		}
		elapsed := time.Since(start)
		oneMB := float64(diskUsage(b, RootsDir(one))) / 1e6
		allMB := float64(diskUsage(b, RootsDir(store))) / 1e6
		b.ReportMetric(oneMB, "MB/1root")
		b.ReportMetric(allMB, "MB/20roots")
		b.ReportMetric(allMB/oneMB, "x1root")
		b.ReportMetric(20*oneMB, "MB/20copies")
		b.ReportMetric(elapsed.Seconds(), "s/20roots")
	}
}

// The umask of the composing process changes no mode in a root, so no
// digest: the root directory, directories only implied by a path, /etc
// files and pool files all get their modes explicitly.
func TestComposeUmask(t *testing.T) {
	deb := makeDeb(t, []tarEntry{
		{name: "./usr/lib/implied/deep/file", typ: tar.TypeReg, body: "x", mode: 0o644},
		{name: "./usr/bin/tool", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o755},
	})
	p := pkgFor("p", deb)
	var digests []string
	for _, mask := range []int{0o022, 0o077} {
		old := syscall.Umask(mask)
		r, err := ComposeCached(context.Background(), filepath.Join(t.TempDir(), fmt.Sprint(mask)), []Package{p}, memOpener(map[string][]byte{"p": deb}), Options{})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for f, want := range map[string]os.FileMode{".": 0o755, "usr/lib/implied/deep": 0o755, "etc/passwd": 0o644, "usr/lib/implied/deep/file": 0o644, "usr/bin/tool": 0o755} {
			if fi, err := os.Stat(filepath.Join(r.Dir, f)); err != nil || fi.Mode().Perm() != want {
				t.Errorf("umask %03o: %s: mode %v (%v), want %v", mask, f, fi.Mode().Perm(), err, want)
			}
		}
		digests = append(digests, r.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("umask 022 and 077 give digests %v", digests)
	}
}

// Roots share pool files; GC removes dead roots and the pool files only
// they linked, reports the bytes, and a collected root composes again.
func TestPoolSharingAndGC(t *testing.T) {
	shared := strings.Repeat("shared ", 10000)
	a := makeDeb(t, []tarEntry{{name: "./usr/lib/shared", typ: tar.TypeReg, body: shared}, {name: "./usr/lib/only-a", typ: tar.TypeReg, body: strings.Repeat("a", 5000)}})
	b := makeDeb(t, []tarEntry{{name: "./usr/lib/shared", typ: tar.TypeReg, body: shared}, {name: "./usr/lib/only-b", typ: tar.TypeReg, body: strings.Repeat("b", 7000)}})
	open := memOpener(map[string][]byte{"a": a, "b": b})
	store := t.TempDir()
	ctx := context.Background()
	ra, err := ComposeCached(ctx, store, []Package{pkgFor("a", a)}, open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ComposeCached(ctx, store, []Package{pkgFor("b", b)}, open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := os.Stat(filepath.Join(ra.Dir, "usr/lib/shared"))
	fb, _ := os.Stat(filepath.Join(rb.Dir, "usr/lib/shared"))
	if !os.SameFile(fa, fb) {
		t.Error("the file both roots hold is stored twice")
	}
	st, err := GC(store, map[string]bool{ra.Key: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Roots != 1 || st.PoolFiles != 1 || st.Bytes < 7000 {
		t.Errorf("GC: %+v, want root b and its only-b pool file (7000 bytes) gone", st)
	}
	if _, err := os.Stat(rb.Dir); err == nil {
		t.Error("dead root still there")
	}
	if b, err := os.ReadFile(filepath.Join(ra.Dir, "usr/lib/shared")); err != nil || string(b) != shared {
		t.Errorf("live root damaged: %v", err)
	}
	again, err := ComposeCached(ctx, store, []Package{pkgFor("b", b)}, open, Options{})
	if err != nil || again.Cached || again.Digest != rb.Digest {
		t.Errorf("recompose after GC: %+v %v, want digest %s", again, err, rb.Digest)
	}
}

// The BLAS/LAPACK and automake alternatives links are made only in roots
// holding a providing package, and only those roots' keys change: a root
// without one keeps the key (and tree) it had before the entries existed,
// so no Postgres cell's action key moves.
func TestAlternativesWithProviders(t *testing.T) {
	blas := []tarEntry{{name: "./usr/lib/x86_64-linux-gnu/blas/libblas.so.3", typ: tar.TypeReg, body: "blas"}}
	aclocal := []tarEntry{{name: "./usr/bin/aclocal-1.16", typ: tar.TypeReg, body: "aclocal"}}
	oldKey := func(pkgs []Package) string { // Key as it was before alternatives had providers
		h := sha256.New()
		io.WriteString(h, "monogres toolchain root v2\n")
		for _, p := range sortPackages(pkgs) {
			fmt.Fprintf(h, "deb %s %s %s %s\n", p.Name, p.Arch, p.Version, p.SHA256)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	for _, tc := range []struct {
		name         string
		files        []tarEntry
		link, target string
		made         bool
	}{
		{"libblas3", blas, "usr/lib/x86_64-linux-gnu/libblas.so.3", "blas/libblas.so.3", true},
		{"not-a-provider", blas, "usr/lib/x86_64-linux-gnu/libblas.so.3", "blas/libblas.so.3", false},
		{"automake", aclocal, "usr/bin/aclocal", "aclocal-1.16", true},
		{"not-automake", aclocal, "usr/bin/aclocal", "aclocal-1.16", false},
	} {
		deb := makeDeb(t, tc.files)
		pkgs := []Package{pkgFor(tc.name, deb)}
		r, err := ComposeCached(context.Background(), t.TempDir(), pkgs, memOpener(map[string][]byte{tc.name: deb}), Options{})
		if err != nil {
			t.Fatal(err)
		}
		target, err := os.Readlink(filepath.Join(r.Dir, tc.link))
		if tc.made {
			if err != nil || target != tc.target {
				t.Errorf("%s: %s -> %q (%v), want %s", tc.name, tc.link, target, err, tc.target)
			}
			if b, err := os.ReadFile(filepath.Join(r.Dir, tc.link)); err != nil || string(b) != tc.files[0].body {
				t.Errorf("%s: reading through the link: %q %v", tc.name, b, err)
			}
			if Key(pkgs, Options{}) == oldKey(pkgs) {
				t.Errorf("%s: a root with the link kept the key of a root composed without it", tc.name)
			}
		} else {
			if err == nil {
				t.Errorf("%s: %s -> %q made without a providing package", tc.name, tc.link, target)
			}
			if got, want := Key(pkgs, Options{}), oldKey(pkgs); got != want {
				t.Errorf("%s: key %s, want the unchanged %s", tc.name, got, want)
			}
		}
	}
}
