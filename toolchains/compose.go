package toolchains

import (
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
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
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

func (o Options) key() string {
	ex := slices.Clone(o.Exclude)
	slices.Sort(ex)
	h := sha256.New()
	for _, e := range ex {
		fmt.Fprintf(h, "exclude %q\n", e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

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
	names := map[string]bool{}
	for _, p := range pkgs {
		names[p.Name] = true
	}
	for _, a := range alternatives { // only those added with providers: no other root's key changes
		if slices.ContainsFunc(a.providers, func(p string) bool { return names[p] }) {
			lines = append(lines, fmt.Sprintf("alternative %s\n", a.link))
		}
	}
	h := sha256.New()
	io.WriteString(h, "monogres toolchain root v2\n")
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RootsDir is where ComposeCached keeps roots and their shared file pool
// under a store directory: <store>/roots/<key>/root, <store>/roots/.pool.
func RootsDir(store string) string { return filepath.Join(store, "roots") }

func poolOf(store string) pool { return pool{filepath.Join(RootsDir(store), ".pool")} }

// ComposeCached returns the root for pkgs from <store>/roots/<key>/root,
// composing it first if absent. Roots share one file pool
// (<store>/roots/.pool): a file two roots hold is stored once and
// hard-linked, and a .deb is decompressed once per store. A new root is
// composed under <store>/tmp and renamed into place, so a root in roots/
// is always complete; two concurrent callers both succeed and one result
// is kept.
func ComposeCached(ctx context.Context, store string, pkgs []Package, open Opener, opts Options) (Root, error) {
	key := Key(pkgs, opts)
	final := filepath.Join(RootsDir(store), key)
	if r, ok := readCached(final, key); ok {
		return r, nil
	}
	for _, d := range []string{RootsDir(store), filepath.Join(store, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Root{}, fmt.Errorf("toolchains: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Join(store, "tmp"), "root-"+key[:16]+"-")
	if err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	r, err := compose(ctx, poolOf(store), pkgs, open, filepath.Join(tmp, "root"), opts)
	if err != nil {
		return Root{}, err
	}
	var list strings.Builder
	for _, p := range sortPackages(pkgs) {
		fmt.Fprintf(&list, "%s %s %s %s\n", p.Name, p.Arch, p.Version, p.SHA256)
	}
	if err := writeAtomic(filepath.Join(tmp, "packages"), []byte(list.String())); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	if err := writeAtomic(filepath.Join(tmp, "digest"), []byte(r.Digest+"\n")); err != nil {
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

// Cached returns the root of a request if ComposeCached has composed it in
// store, without composing anything (ok false: not composed yet).
func Cached(store string, req RootRequest) (Root, bool) {
	return readCached(filepath.Join(RootsDir(store), req.Key), req.Key)
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
// are dropped; every mode is set explicitly (the umask does not matter).
// Packages are applied in (name, arch) order, so a path two packages ship
// holds the later one's version.
//
// Compose uses a private file pool next to dest, removed afterwards;
// ComposeCached shares one per store.
func Compose(ctx context.Context, pkgs []Package, open Opener, dest string, opts Options) (Root, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(dest), ".pool-")
	if err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	defer os.RemoveAll(dir)
	return compose(ctx, pool{dir}, pkgs, open, dest, opts)
}

func sortPackages(pkgs []Package) []Package {
	pkgs = slices.Clone(pkgs)
	slices.SortFunc(pkgs, func(a, b Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Arch, b.Arch)
	})
	return pkgs
}

func compose(ctx context.Context, pl pool, pkgs []Package, open Opener, dest string, opts Options) (Root, error) {
	pkgs = sortPackages(pkgs)
	for i := 1; i < len(pkgs); i++ {
		if pkgs[i].Name == pkgs[i-1].Name && pkgs[i].Arch == pkgs[i-1].Arch {
			return Root{}, fmt.Errorf("toolchains: compose: %s and %s are both in the package set", pkgs[i-1], pkgs[i])
		}
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return Root{}, fmt.Errorf("toolchains: %w", err)
	}
	if ents, err := os.ReadDir(dest); err != nil || len(ents) > 0 {
		return Root{}, fmt.Errorf("toolchains: compose into %s: directory not empty", dest)
	}
	lists, err := pl.entriesAll(ctx, pkgs, open, opts)
	if err != nil {
		return Root{}, err
	}
	x := &extractor{root: dest, pool: pl, dirModes: map[string]fs.FileMode{"": 0o755}, sums: map[string]string{}, names: map[string]bool{}}
	for _, p := range pkgs {
		x.names[p.Name] = true
	}
	if err := x.skeleton(); err != nil {
		return Root{}, err
	}
	for i, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return Root{}, err
		}
		if err := x.apply(lists[i]); errors.Is(err, fs.ErrNotExist) {
			// A pool file went missing (GC ran): extract this .deb again.
			os.Remove(pl.list(p, opts))
			var ents []debEntry
			if ents, err = pl.entries(ctx, p, open, opts); err == nil {
				err = x.apply(ents)
			}
			if err != nil {
				return Root{}, fmt.Errorf("toolchains: %s: %w", p, err)
			}
		} else if err != nil {
			return Root{}, fmt.Errorf("toolchains: %s: %w", p, err)
		}
	}
	if err := x.finish(); err != nil {
		return Root{}, err
	}
	d, err := digestTree(dest, x.sums)
	if err != nil {
		return Root{}, err
	}
	return Root{Dir: dest, Key: Key(pkgs, opts), Digest: d}, nil
}

// entriesAll returns the entry list of every package, extracting the
// .debs the pool lacks in parallel.
func (p pool) entriesAll(ctx context.Context, pkgs []Package, open Opener, opts Options) ([][]debEntry, error) {
	out := make([][]debEntry, len(pkgs))
	errs := make([]error, len(pkgs))
	sem := make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, pkg := range pkgs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() == nil {
				out[i], errs[i] = p.entries(ctx, pkg, open, opts)
			} else {
				errs[i] = ctx.Err()
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// extractor places .deb entries into root, never outside it: every path is
// resolved component by component with symlinks interpreted as in a chroot.
type extractor struct {
	root     string
	pool     pool
	dirModes map[string]fs.FileMode // applied at the end so later writes work
	sums     map[string]string      // root-relative path -> sha256 of pool files linked there
	names    map[string]bool        // the package names in the root (alternatives' providers)
}

// usrMerged are the top directories bookworm's usrmerge turns into links.
var usrMerged = []string{"bin", "sbin", "lib", "lib64"}

func (x *extractor) skeleton() error {
	for _, d := range usrMerged {
		if _, err := x.resolve("usr/"+d, true); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
		if err := os.Symlink("usr/"+d, filepath.Join(x.root, d)); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	return nil
}

func (x *extractor) apply(ents []debEntry) error {
	for _, e := range ents {
		if err := x.entry(e); err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	return nil
}

func (x *extractor) entry(e debEntry) error {
	if e.Type == 'd' {
		real, err := x.resolve(e.Path, true)
		if err != nil {
			return err
		}
		x.dirModes[real] = e.Mode
		return nil
	}
	dir, base := path.Split(e.Path)
	rdir, err := x.resolve(strings.TrimSuffix(dir, "/"), true)
	if err != nil {
		return err
	}
	rel := path.Join(rdir, base)
	dst := filepath.Join(x.root, rel)
	if err := x.clear(rel); err != nil {
		return err
	}
	if e.Type == 'l' {
		return os.Symlink(e.Link, dst)
	}
	src := x.pool.file(e.Sum, e.Mode)
	if err := os.Link(src, dst); errors.Is(err, syscall.EMLINK) {
		if err = copyFile(src, dst, e.Mode); err == nil { // the pool file has too many links
			err = lutimes(dst, RootEpoch)
		}
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	x.sums[rel] = e.Sum
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(mode)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// clear removes whatever non-directory is at the root-relative path rel
// (never following it).
func (x *extractor) clear(rel string) error {
	dst := filepath.Join(x.root, rel)
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
	delete(x.sums, rel)
	return os.Remove(dst)
}

// resolve returns the symlink-free root-relative path of the directory
// rel, following symlinks as a chroot would (absolute targets start at the
// root, ".." stops at the root). With create, missing directories are made
// (mode 0755 unless a package says otherwise).
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
			if _, ok := x.dirModes[next]; !ok {
				x.dirModes[next] = 0o755
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
// /bin/sh) would make: link -> first existing candidate, relative to the
// link's directory. An entry with providers is made only when one of
// those packages is in the root, and Key covers it then (so a root
// composed before the entry existed is not reused without the link); the
// entries without providers are in every root's key as it stands, and a
// new entry must name its providers so no other root's key (and so no
// Postgres cell's action key) changes.
var alternatives = []struct {
	link      string
	cands     []string
	providers []string // Debian packages shipping a candidate (empty: the original entries)
}{
	{"usr/bin/sh", []string{"dash", "bash"}, nil},
	{"usr/bin/awk", []string{"mawk", "gawk"}, nil},
	{"usr/bin/nawk", []string{"mawk", "gawk"}, nil},
	{"usr/bin/cc", []string{"gcc", "clang"}, nil},
	{"usr/bin/c++", []string{"g++", "clang++"}, nil},
	{"usr/bin/c89", []string{"c89-gcc"}, nil},
	{"usr/bin/c99", []string{"c99-gcc"}, nil},
	{"usr/bin/yacc", []string{"bison.yacc", "byacc"}, nil},
	{"usr/bin/lex", []string{"flex"}, nil},
	{"usr/bin/pager", []string{"less", "more"}, nil},
	{"usr/bin/lzma", []string{"xz"}, nil},
	{"usr/bin/unlzma", []string{"unxz"}, nil},
	{"usr/bin/lzcat", []string{"xzcat"}, nil},
	// automake's update-alternatives links the unversioned names
	// (autoreconf and autogen.sh scripts call aclocal and automake).
	{"usr/bin/aclocal", []string{"aclocal-1.16", "aclocal-1.17"}, []string{"automake"}},
	{"usr/bin/automake", []string{"automake-1.16", "automake-1.17"}, []string{"automake"}},
	// BLAS and LAPACK (GDAL, hence PostGIS, links them): Debian's packages
	// ship them in a directory per implementation and update-alternatives
	// links the soname (and the -dev package's .so) into the multiarch
	// directory.
	{"usr/lib/x86_64-linux-gnu/libblas.so.3", []string{"blas/libblas.so.3", "openblas-pthread/libblas.so.3", "openblas-openmp/libblas.so.3", "openblas-serial/libblas.so.3", "blis-pthread/libblas.so.3", "blis-openmp/libblas.so.3", "blis-serial/libblas.so.3"}, []string{"libblas3", "libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial", "libblis4-pthread", "libblis4-openmp", "libblis4-serial"}},
	{"usr/lib/x86_64-linux-gnu/libblas.so", []string{"blas/libblas.so", "openblas-pthread/libblas.so", "openblas-openmp/libblas.so", "openblas-serial/libblas.so"}, []string{"libblas-dev", "libopenblas-pthread-dev", "libopenblas-openmp-dev", "libopenblas-serial-dev"}},
	{"usr/lib/x86_64-linux-gnu/liblapack.so.3", []string{"lapack/liblapack.so.3", "openblas-pthread/liblapack.so.3", "openblas-openmp/liblapack.so.3", "openblas-serial/liblapack.so.3"}, []string{"liblapack3", "libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial"}},
	{"usr/lib/x86_64-linux-gnu/liblapack.so", []string{"lapack/liblapack.so", "openblas-pthread/liblapack.so", "openblas-openmp/liblapack.so", "openblas-serial/liblapack.so"}, []string{"liblapack-dev", "libopenblas-pthread-dev", "libopenblas-openmp-dev", "libopenblas-serial-dev"}},
	{"usr/lib/aarch64-linux-gnu/libblas.so.3", []string{"blas/libblas.so.3", "openblas-pthread/libblas.so.3", "openblas-openmp/libblas.so.3", "openblas-serial/libblas.so.3", "blis-pthread/libblas.so.3", "blis-openmp/libblas.so.3", "blis-serial/libblas.so.3"}, []string{"libblas3", "libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial", "libblis4-pthread", "libblis4-openmp", "libblis4-serial"}},
	{"usr/lib/aarch64-linux-gnu/libblas.so", []string{"blas/libblas.so", "openblas-pthread/libblas.so", "openblas-openmp/libblas.so", "openblas-serial/libblas.so"}, []string{"libblas-dev", "libopenblas-pthread-dev", "libopenblas-openmp-dev", "libopenblas-serial-dev"}},
	{"usr/lib/aarch64-linux-gnu/liblapack.so.3", []string{"lapack/liblapack.so.3", "openblas-pthread/liblapack.so.3", "openblas-openmp/liblapack.so.3", "openblas-serial/liblapack.so.3"}, []string{"liblapack3", "libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial"}},
	{"usr/lib/aarch64-linux-gnu/liblapack.so", []string{"lapack/liblapack.so", "openblas-pthread/liblapack.so", "openblas-openmp/liblapack.so", "openblas-serial/liblapack.so"}, []string{"liblapack-dev", "libopenblas-pthread-dev", "libopenblas-openmp-dev", "libopenblas-serial-dev"}},
}

func (x *extractor) finish() error {
	for _, a := range alternatives {
		if len(a.providers) > 0 && !slices.ContainsFunc(a.providers, func(p string) bool { return x.names[p] }) {
			continue
		}
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
		if err := x.clear(name); err != nil {
			return fmt.Errorf("toolchains: /%s: %w", name, err)
		}
		if err := os.WriteFile(dst, []byte(etc[name]), 0o644); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
		if err := os.Chmod(dst, 0o644); err != nil { // whatever the umask
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
		if d.Type().IsRegular() {
			if rel, _ := filepath.Rel(x.root, p); x.sums[filepath.ToSlash(rel)] != "" {
				return nil // a pool file: already RootEpoch
			}
		}
		return lutimes(p, RootEpoch)
	})
}

// DigestTree is the hex sha256 of a tree: for every entry in lexical
// order, its path, type, permission bits, and content sha256 or link
// target. Mtimes and owners are not part of it.
func DigestTree(dir string) (string, error) { return digestTree(dir, nil) }

// digestTree is DigestTree with the content sha256 of some files already
// known (by slash-separated path relative to dir).
func digestTree(dir string, known map[string]string) (string, error) {
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
			sum, ok := known[filepath.ToSlash(rel)]
			if !ok {
				if sum, err = fileSHA256(p, buf); err != nil {
					return err
				}
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
