package toolchains

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Opener returns the bytes of one .deb. Compose checks them against
// p.SHA256 and p.Size, so the opener may read from anywhere: the store, a
// mirror, apt's cache.
type Opener func(ctx context.Context, p Package) (io.ReadCloser, error)

// Options change what a composed root holds; they are part of its Key.
type Options struct {
	// Exclude lists path prefixes (relative to the root, after the
	// merged-/usr redirect, e.g. "usr/share/doc") that are not extracted.
	Exclude []string
}

// DefaultOptions leave out documentation, which no build reads.
var DefaultOptions = Options{Exclude: []string{"usr/share/doc/", "usr/share/info/", "usr/share/man/", "usr/share/locale/", "usr/share/lintian/"}}

// RootEpoch is the mtime of every file in a composed root (1980-01-01, the
// earliest time zip and similar formats can record).
var RootEpoch = time.Unix(315532800, 0)

// Root is a composed root file system.
type Root struct {
	Dir    string // the root directory
	Key    string // hex sha256 of the package set and options (the cache key)
	Digest string // hex sha256 of the tree (see DigestTree)
	Cached bool   // ComposeCached found it in the store
}

// Key is the cache key of a root: the hex sha256 of the sorted package set
// (name, arch, version, sha256) and the options.
func Key(pkgs []Package, opts Options) string {
	lines := make([]string, 0, len(pkgs)+len(opts.Exclude)+1)
	for _, p := range pkgs {
		lines = append(lines, fmt.Sprintf("deb %s %s %s %s\n", p.Name, p.Arch, p.Version, p.SHA256))
	}
	slices.Sort(lines)
	ex := slices.Clone(opts.Exclude)
	slices.Sort(ex)
	for _, e := range ex {
		lines = append(lines, fmt.Sprintf("exclude %q\n", e))
	}
	h := sha256.New()
	io.WriteString(h, "monogres toolchain root v1\n")
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ComposeCached returns the root for pkgs from <store>/roots/<key>/root,
// composing it first if absent. A new root is composed under <store>/tmp
// and renamed into place, so a root in roots/ is always complete; two
// concurrent callers both succeed and one result is kept.
func ComposeCached(ctx context.Context, store string, pkgs []Package, open Opener, opts Options) (Root, error) {
	key := Key(pkgs, opts)
	final := filepath.Join(store, "roots", key)
	if r, ok := readCached(final, key); ok {
		return r, nil
	}
	for _, d := range []string{filepath.Join(store, "roots"), filepath.Join(store, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Root{}, fmt.Errorf("toolchains: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Join(store, "tmp"), "root-"+key[:16]+"-")
	if err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	defer os.RemoveAll(tmp)
	r, err := Compose(ctx, pkgs, open, filepath.Join(tmp, "root"), opts)
	if err != nil {
		return Root{}, err
	}
	var list bytes.Buffer
	for _, p := range pkgs {
		fmt.Fprintf(&list, "%s %s %s %s\n", p.Name, p.Arch, p.Version, p.SHA256)
	}
	if err := os.WriteFile(filepath.Join(tmp, "packages"), list.Bytes(), 0o644); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "digest"), []byte(r.Digest+"\n"), 0o644); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if c, ok := readCached(final, key); ok {
			return c, nil // another caller won the race
		}
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	r.Dir = filepath.Join(final, "root")
	return r, nil
}

func readCached(dir, key string) (Root, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "digest"))
	if err != nil {
		return Root{}, false
	}
	return Root{Dir: filepath.Join(dir, "root"), Key: key, Digest: strings.TrimSpace(string(b)), Cached: true}, true
}

// Compose extracts the data of every .deb in pkgs into dest (which must
// not exist or be empty), runs no maintainer script, and then makes what
// usrmerge and the maintainer scripts would have: the merged-/usr links
// (/bin, /sbin, /lib, /lib64 -> usr/...; files packages ship under /bin or
// /lib land in usr/), /usr/bin/sh -> dash, the alternatives links (cc, c++,
// awk, yacc, lex, ...), a minimal /etc (passwd and group with root and
// postgres (uid 1000), hosts) and empty mount points (dev, proc, sys, tmp).
// No ld.so.cache is made: glibc's built-in search path covers the multiarch
// directories. Every mtime is RootEpoch; setuid/setgid bits and ownership
// are dropped. Packages are applied in (name, arch) order, so a path two
// packages ship holds the later one's version.
func Compose(ctx context.Context, pkgs []Package, open Opener, dest string, opts Options) (Root, error) {
	pkgs = slices.Clone(pkgs)
	slices.SortFunc(pkgs, func(a, b Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Arch, b.Arch)
	})
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	if ents, err := os.ReadDir(dest); err != nil || len(ents) > 0 {
		return Root{}, fmt.Errorf("toolchains: compose into %s: directory not empty", dest)
	}
	x := &extractor{root: dest, opts: opts, dirModes: map[string]fs.FileMode{}}
	if err := x.skeleton(); err != nil {
		return Root{}, err
	}

	// Read and decompress in parallel, apply in order; at most workers+1
	// data.tars are held in memory at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		tar []byte
		err error
	}
	results := make([]chan result, len(pkgs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	xzPath, _ := exec.LookPath("xz") // optional: a faster data.tar.xz decoder
	workers := max(2, runtime.GOMAXPROCS(0))
	sem := make(chan struct{}, workers+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, p := range pkgs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- result{err: ctx.Err()}
				continue
			}
			wg.Go(func() {
				b, err := readDeb(ctx, p, open, xzPath)
				results[i] <- result{b, err}
			})
		}
	})
	var err error
	for i, p := range pkgs {
		res := <-results[i]
		if err = res.err; err == nil {
			err = x.apply(p, res.tar)
		}
		<-sem
		if err != nil {
			break
		}
	}
	cancel()
	wg.Wait()
	if err != nil {
		return Root{}, err
	}
	if err := x.finish(); err != nil {
		return Root{}, err
	}
	d, err := DigestTree(dest)
	if err != nil {
		return Root{}, err
	}
	return Root{Dir: dest, Key: Key(pkgs, opts), Digest: d}, nil
}

// readDeb opens p, verifies size and sha256, and returns its data.tar.
func readDeb(ctx context.Context, p Package, open Opener, xzPath string) ([]byte, error) {
	rc, err := open(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("toolchains: open %s: %w", p, err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(rc, h)}
	data, err := readDataTar(ctx, cr, xzPath)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %s (%s): %w", p, p.Filename, err)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, fmt.Errorf("toolchains: %s: %w", p, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 || (p.Size != 0 && cr.n != p.Size) {
		return nil, fmt.Errorf("toolchains: %s: got sha256 %s size %d, want sha256 %s size %d", p, got, cr.n, p.SHA256, p.Size)
	}
	return data, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// extractor writes .deb data into root, never outside it: every path is
// resolved component by component with symlinks interpreted as in a chroot.
type extractor struct {
	root     string
	opts     Options
	dirModes map[string]fs.FileMode // applied at the end so later writes work
}

// usrMerged are the top directories bookworm's usrmerge turns into links.
var usrMerged = []string{"bin", "sbin", "lib", "lib64"}

func (x *extractor) skeleton() error {
	for _, d := range usrMerged {
		if err := os.MkdirAll(filepath.Join(x.root, "usr", d), 0o755); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
		if err := os.Symlink("usr/"+d, filepath.Join(x.root, d)); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	return nil
}

// target maps a tar member name to a clean root-relative path, applying
// the merged-/usr redirect; "" means skip. Names with ".." are an error.
func (x *extractor) target(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q has a \"..\" component", name)
		}
	}
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	if rel == "" {
		return "", nil
	}
	top, _, _ := strings.Cut(rel, "/")
	if slices.Contains(usrMerged, top) {
		rel = "usr/" + rel
	}
	for _, ex := range x.opts.Exclude {
		if strings.HasPrefix(rel+"/", ex) || strings.HasPrefix(rel, ex) {
			return "", nil
		}
	}
	return rel, nil
}

func (x *extractor) apply(p Package, data []byte) error {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("toolchains: %s: data.tar: %w", p, err)
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("toolchains: %s: %s: %w", p, h.Name, err)
		}
	}
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	rel, err := x.target(h.Name)
	if err != nil || rel == "" {
		return err
	}
	mode := fs.FileMode(h.Mode) & (fs.ModePerm | fs.ModeSticky)
	if h.Mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch h.Typeflag {
	case tar.TypeDir:
		real, err := x.resolve(rel, true)
		if err != nil {
			return err
		}
		x.dirModes[real] = mode
		return nil
	case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil // devices, fifos: not in a build root
	}
	dir, base := path.Split(rel)
	rdir, err := x.resolve(strings.TrimSuffix(dir, "/"), true)
	if err != nil {
		return err
	}
	dst := filepath.Join(x.root, rdir, base)
	if err := x.clear(dst); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		return os.Symlink(h.Linkname, dst)
	case tar.TypeLink:
		lrel, err := x.target(h.Linkname)
		if err != nil || lrel == "" {
			return fmt.Errorf("hard link to %q: %v", h.Linkname, err)
		}
		ldir, lbase := path.Split(lrel)
		rl, err := x.resolve(strings.TrimSuffix(ldir, "/"), false)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", h.Linkname, err)
		}
		src := filepath.Join(x.root, rl, lbase)
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("hard link to %q: not a regular file in the root", h.Linkname)
		}
		return os.Link(src, dst)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// clear removes whatever non-directory is at dst (never following it).
func (x *extractor) clear(dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("a directory is in the way")
	}
	return os.Remove(dst)
}

// resolve returns the symlink-free root-relative path of the directory
// rel, following symlinks as a chroot would (absolute targets start at the
// root, ".." stops at the root). With create, missing directories are made.
func (x *extractor) resolve(rel string, create bool) (string, error) {
	comps := splitPath(rel)
	cur := ""
	links := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		if c == ".." {
			cur = parentOf(cur)
			continue
		}
		next := path.Join(cur, c)
		host := filepath.Join(x.root, next)
		fi, err := os.Lstat(host)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(host, 0o755); err != nil {
				return "", err
			}
			cur = next
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > 40 {
				return "", fmt.Errorf("too many levels of symbolic links at /%s", next)
			}
			t, err := os.Readlink(host)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(t, "/") {
				cur = ""
			}
			comps = append(splitPath(t), comps...)
		case fi.IsDir():
			cur = next
		default:
			return "", fmt.Errorf("/%s is not a directory", next)
		}
	}
	return cur, nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// alternatives are the links maintainer scripts (update-alternatives, dash's
// /bin/sh) would make: link -> first existing candidate, same directory.
var alternatives = []struct {
	link  string
	cands []string
}{
	{"usr/bin/sh", []string{"dash", "bash"}},
	{"usr/bin/awk", []string{"mawk", "gawk"}},
	{"usr/bin/nawk", []string{"mawk", "gawk"}},
	{"usr/bin/cc", []string{"gcc", "clang"}},
	{"usr/bin/c++", []string{"g++", "clang++"}},
	{"usr/bin/c89", []string{"c89-gcc"}},
	{"usr/bin/c99", []string{"c99-gcc"}},
	{"usr/bin/yacc", []string{"bison.yacc", "byacc"}},
	{"usr/bin/lex", []string{"flex"}},
	{"usr/bin/pager", []string{"less", "more"}},
	{"usr/bin/lzma", []string{"xz"}},
	{"usr/bin/unlzma", []string{"unxz"}},
	{"usr/bin/lzcat", []string{"xzcat"}},
}

func (x *extractor) finish() error {
	for _, a := range alternatives {
		dst := filepath.Join(x.root, a.link)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		for _, c := range a.cands {
			if _, err := os.Stat(filepath.Join(filepath.Dir(dst), c)); err == nil {
				if err := os.Symlink(c, dst); err != nil {
					return fmt.Errorf("toolchains: %w", err)
				}
				break
			}
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "root", "home/postgres", "etc"} {
		if _, err := x.resolve(d, true); err != nil {
			return fmt.Errorf("toolchains: /%s: %w", d, err)
		}
	}
	x.dirModes["tmp"] = 0o777 | fs.ModeSticky
	x.dirModes["root"] = 0o700
	etc := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\npostgres:x:1000:1000:postgres:/home/postgres:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"etc/group":  "root:x:0:\npostgres:x:1000:\nnogroup:x:65534:\n",
		"etc/hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	for _, name := range slices.Sorted(maps.Keys(etc)) {
		dst := filepath.Join(x.root, name)
		if err := x.clear(dst); err != nil {
			return fmt.Errorf("toolchains: /%s: %w", name, err)
		}
		if err := os.WriteFile(dst, []byte(etc[name]), 0o644); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	if err := os.Chown(filepath.Join(x.root, "home/postgres"), 1000, 1000); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("toolchains: %w", err)
	}
	// Directory modes last (a 0555 directory would have blocked writes),
	// deepest first; then one mtime for everything.
	dirs := slices.Sorted(maps.Keys(x.dirModes))
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := os.Chmod(filepath.Join(x.root, d), x.dirModes[d]); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	return filepath.WalkDir(x.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return lutimes(p, RootEpoch)
	})
}

// DigestTree is the hex sha256 of a tree: for every entry in lexical
// order, its path, type, permission bits, and content sha256 or link
// target. Mtimes and owners are not part of it.
func DigestTree(dir string) (string, error) {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		perm := fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "L %q -> %q\n", rel, t)
		case fi.IsDir():
			fmt.Fprintf(h, "D %q %o\n", rel, perm)
		case fi.Mode().IsRegular():
			sum, err := fileSHA256(p, buf)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "F %q %o %d %s\n", rel, perm, fi.Size(), sum)
		default:
			fmt.Fprintf(h, "O %q %v\n", rel, fi.Mode())
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("toolchains: digest %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(p string, buf []byte) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
