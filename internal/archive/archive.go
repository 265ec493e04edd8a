// Package archive owns extraction of source archives (tar.gz, tar.bz2,
// tar.xz, tar.zst, plain tar, zip, and .deb) into a directory, safely and
// deterministically.
//
// Invariants:
//   - Nothing is written outside dest: absolute names and names with ".."
//     are rejected, a symlink's target must resolve inside the tree component
//     by component (following the links already extracted, and again in the
//     final tree), hardlinks must point to files extracted earlier, and all
//     file operations go through an os.Root opened on dest, so even a write
//     through an in-tree symlink cannot leave it.
//   - Device files, FIFOs and other special entries are rejected.
//   - The output is bounded (Options.MaxBytes, MaxFiles, MaxRatio) against
//     decompression bombs.
//   - The result depends only on the archive bytes and Options: modes are
//     normalized (directories 0755, files 0644 or 0755 when any execute bit is
//     set), ownership is the extracting user's, and mtimes are either the
//     entries' own (Options.Mtime zero; directories implied by a path but
//     absent from the archive get the Unix epoch) or Options.Mtime for every
//     entry.
//
// The format is detected from the file's magic bytes, not its name.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 8 << 30   // 8 GiB of extracted file data
	DefaultMaxFiles = 1_000_000 // entries
	DefaultMaxRatio = 200       // extracted bytes per compressed byte, checked past RatioFloor
	RatioFloor      = 64 << 20  // the ratio is only enforced once this much was extracted
)

// Options tunes Extract. The zero value is safe.
type Options struct {
	// StripPrefix is a leading directory removed from every name
	// ("postgresql-15.18"). Entries outside it are an error, except the
	// prefix directory itself and pax/global headers.
	StripPrefix string
	// MaxBytes bounds the total size of extracted files; 0 = DefaultMaxBytes.
	MaxBytes int64
	// MaxFiles bounds the number of entries; 0 = DefaultMaxFiles.
	MaxFiles int
	// MaxRatio bounds extracted/compressed bytes once RatioFloor bytes were
	// extracted; 0 = DefaultMaxRatio, negative = no ratio check.
	MaxRatio int64
	// Mtime, if non-zero, is set on every extracted entry; zero keeps the
	// entries' own mtimes.
	Mtime time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.MaxRatio == 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	o.StripPrefix = strings.Trim(o.StripPrefix, "/")
	return o
}

// Format is a detected archive format.
type Format string

const (
	TarGz  Format = "tar.gz"
	TarBz2 Format = "tar.bz2"
	TarXz  Format = "tar.xz"
	TarZst Format = "tar.zst"
	Tar    Format = "tar"
	Zip    Format = "zip"
	Deb    Format = "deb"
)

// Detect returns the format of the archive at path from its magic bytes.
func Detect(archivePath string) (Format, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return detect(archivePath, head[:n])
}

func detect(name string, b []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return TarGz, nil
	case bytes.HasPrefix(b, []byte("BZh")):
		return TarBz2, nil
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return TarXz, nil
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return TarZst, nil
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return Zip, nil
	case bytes.HasPrefix(b, []byte("!<arch>\n")):
		return Deb, nil
	case len(b) >= 262 && string(b[257:262]) == "ustar":
		return Tar, nil
	}
	return "", fmt.Errorf("%s: not a supported archive (tar.gz, tar.bz2, tar.xz, tar.zst, tar, zip, deb)", name)
}

// Decompress returns r decoded by the compression its file extension names:
// ".gz", ".bz2", ".xz", ".zst", ".lz4", or "" for none. It is the one
// decompressor switch of monogres (archives, .deb members, apt indexes).
// Close releases the decoder, not r.
func Decompress(ext string, r io.Reader) (io.ReadCloser, error) {
	switch ext {
	case "":
		return io.NopCloser(r), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".bz2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case ".xz":
		if _, ok := r.(io.ByteReader); !ok {
			r = bufio.NewReader(r)
		}
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	case ".lz4":
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("unknown compression %q (.gz, .bz2, .xz, .zst, .lz4)", ext)
}

// compressions maps the tar formats to their compression extension.
var compressions = map[Format]string{TarGz: ".gz", TarBz2: ".bz2", TarXz: ".xz", TarZst: ".zst", Tar: ""}

// decompress wraps r according to the compressed-tar format f.
func decompress(f Format, r io.Reader) (io.Reader, func(), error) {
	ext, ok := compressions[f]
	if !ok {
		return nil, nil, fmt.Errorf("not a tar format: %s", f)
	}
	rc, err := Decompress(ext, r)
	if err != nil {
		return nil, nil, err
	}
	return rc, func() { rc.Close() }, nil
}

// CountingReader counts the bytes read through it in N.
type CountingReader struct {
	R io.Reader
	N int64
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Extract unpacks the archive at archivePath into dest, which must not exist
// or be an empty directory. On error, dest is removed if Extract created it
// (otherwise emptied), so a failed extraction leaves nothing behind. Errors
// name the archive and the offending entry.
func Extract(ctx context.Context, archivePath, dest string, opts Options) (err error) {
	opts = opts.withDefaults()
	if ents, rerr := os.ReadDir(dest); rerr == nil && len(ents) > 0 {
		return fmt.Errorf("extract %s: destination %s is not empty", archivePath, dest)
	}
	created := false
	if _, serr := os.Stat(dest); errors.Is(serr, fs.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("extract %s: %v", archivePath, err)
	}
	defer func() {
		if err != nil {
			if created {
				os.RemoveAll(dest)
			} else if ents, rerr := os.ReadDir(dest); rerr == nil {
				for _, e := range ents {
					os.RemoveAll(filepath.Join(dest, e.Name()))
				}
			}
		}
	}()
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("extract %s: %v", archivePath, err)
	}
	defer root.Close()
	x := &extractor{ctx: ctx, root: root, opts: opts, archive: archivePath, dirs: map[string]time.Time{}, files: map[string]bool{}}
	if err := x.run(); err != nil {
		return err
	}
	return x.finish()
}

type extractor struct {
	ctx      context.Context
	root     *os.Root
	opts     Options
	archive  string
	src      *CountingReader // compressed bytes read
	written  int64
	count    int
	dirs     map[string]time.Time // directories created, with their mtime
	files    map[string]bool      // regular files extracted (hardlink targets)
	buf      []byte
	symlinks []symlinkTime
}

type symlinkTime struct {
	name string
	t    time.Time
}

func (x *extractor) errorf(entry, format string, args ...any) error {
	return fmt.Errorf("extract %s: entry %q: %s", x.archive, entry, fmt.Sprintf(format, args...))
}

func (x *extractor) run() error {
	f, err := os.Open(x.archive)
	if err != nil {
		return fmt.Errorf("extract: %v", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	format, err := detect(x.archive, head[:n])
	if err != nil {
		return fmt.Errorf("extract %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	x.src = &CountingReader{R: f}
	x.buf = make([]byte, 1<<20)
	switch format {
	case Zip:
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return x.zip(f, fi.Size())
	case Deb:
		r, inner, err := debData(x.src, x.archive)
		if err != nil {
			return err
		}
		return x.tarStream(inner, r)
	default:
		return x.tarStream(format, x.src)
	}
}

func (x *extractor) tarStream(format Format, r io.Reader) error {
	dr, closer, err := decompress(format, r)
	if err != nil {
		return fmt.Errorf("extract %s: %s: %v", x.archive, format, err)
	}
	defer closer()
	tr := tar.NewReader(dr)
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract %s: reading %s: %v", x.archive, format, err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// clean validates an archive name and applies StripPrefix. It returns "" for
// entries to skip (the prefix directory itself, ".").
func (x *extractor) clean(name string) (string, error) {
	n, reason := cleanName(name, x.opts.StripPrefix)
	if reason != "" {
		return "", x.errorf(name, "%s", reason)
	}
	return n, nil
}

// cleanName is clean without the error decoration; reason is "" when the
// name is acceptable.
func cleanName(name, prefix string) (string, string) {
	if name == "" {
		return "", "empty name"
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", "absolute path"
	}
	if strings.Contains(name, "\x00") || strings.Contains(name, "\\") {
		return "", "name contains NUL or backslash"
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", `path traversal ("..")`
		}
	}
	n := path.Clean(strings.TrimPrefix(name, "./"))
	if prefix != "" {
		if n == prefix {
			return "", ""
		}
		if !strings.HasPrefix(n, prefix+"/") {
			return "", fmt.Sprintf("outside strip_prefix %q", prefix)
		}
		n = strings.TrimPrefix(n, prefix+"/")
	}
	if n == "." {
		return "", ""
	}
	return n, ""
}

func (x *extractor) countEntry(name string) error {
	x.count++
	if x.count > x.opts.MaxFiles {
		return x.errorf(name, "archive has more than %d entries (MaxFiles); refusing a possible decompression bomb", x.opts.MaxFiles)
	}
	return nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	name, err := x.clean(hdr.Name)
	if err != nil || name == "" {
		return err
	}
	if err := x.countEntry(hdr.Name); err != nil {
		return err
	}
	mt := hdr.ModTime
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(name, mt)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(hdr.Name, name, hdr.Mode, hdr.Size, mt, r)
	case tar.TypeSymlink:
		return x.symlink(hdr.Name, name, hdr.Linkname, mt)
	case tar.TypeLink:
		target, reason := cleanName(hdr.Linkname, x.opts.StripPrefix)
		if reason != "" {
			return x.errorf(hdr.Name, "hardlink target %q: %s", hdr.Linkname, reason)
		}
		return x.hardlink(hdr.Name, name, target)
	case tar.TypeChar, tar.TypeBlock:
		return x.errorf(hdr.Name, "device file refused")
	case tar.TypeFifo:
		return x.errorf(hdr.Name, "FIFO refused")
	default:
		return x.errorf(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
}

// parents creates the missing parent directories of name. A parent that is
// a symlink is refused: nothing is ever written through a symlink (like
// libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS), so a symlink planted by one
// entry cannot redirect a later one.
func (x *extractor) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	if _, ok := x.dirs[dir]; ok {
		return nil
	}
	elems := strings.Split(dir, "/")
	for i := range elems {
		d := strings.Join(elems[:i+1], "/")
		if _, ok := x.dirs[d]; ok {
			continue
		}
		fi, err := x.root.Lstat(d)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			return x.errorf(name, "refusing to write through symlink %q", d)
		case err == nil && !fi.IsDir():
			return x.errorf(name, "parent %q is not a directory", d)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(d, 0o755); err != nil {
				return x.errorf(name, "creating parent %q: %v", d, err)
			}
		default:
			return x.errorf(name, "%v", err)
		}
		x.dirs[d] = time.Time{}
	}
	return nil
}

func (x *extractor) mkdir(name string, mt time.Time) error {
	if err := x.parents(name); err != nil {
		return err
	}
	fi, err := x.root.Lstat(name)
	switch {
	case err == nil && fi.IsDir():
	case err == nil:
		return x.errorf(name, "directory replaces an existing non-directory")
	default:
		if err := x.root.Mkdir(name, 0o755); err != nil {
			return x.errorf(name, "%v", err)
		}
	}
	x.dirs[name] = mt
	return nil
}

// removeExisting unlinks a non-directory already at name, so a later entry
// replaces it instead of writing through it (tar semantics, and no writes
// through symlinks).
func (x *extractor) removeExisting(name string) error {
	fi, err := x.root.Lstat(name)
	if err != nil {
		return nil
	}
	if fi.IsDir() {
		return x.errorf(name, "file replaces an existing directory")
	}
	delete(x.files, name)
	return x.root.Remove(name)
}

func fileMode(m int64) os.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

func (x *extractor) file(orig, name string, mode, size int64, mt time.Time, r io.Reader) error {
	if size > x.opts.MaxBytes-x.written {
		return x.errorf(orig, "extracting %d more bytes would exceed the %d-byte limit (MaxBytes); refusing a possible decompression bomb", size, x.opts.MaxBytes)
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if err := x.removeExisting(name); err != nil {
		return err
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode(mode))
	if err != nil {
		return x.errorf(orig, "%v", err)
	}
	werr := x.copy(orig, f, r)
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = x.errorf(orig, "%v", cerr)
	}
	if werr != nil {
		return werr
	}
	// Chmod explicitly: the umask must not change the result.
	if err := x.root.Chmod(name, fileMode(mode)); err != nil {
		return x.errorf(orig, "%v", err)
	}
	if err := x.setTime(name, mt); err != nil {
		return x.errorf(orig, "%v", err)
	}
	x.files[name] = true
	return nil
}

func (x *extractor) copy(orig string, w io.Writer, r io.Reader) error {
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n, rerr := r.Read(x.buf)
		if n > 0 {
			x.written += int64(n)
			if x.written > x.opts.MaxBytes {
				return x.errorf(orig, "extracted data exceeds the %d-byte limit (MaxBytes); refusing a possible decompression bomb", x.opts.MaxBytes)
			}
			if x.opts.MaxRatio > 0 && x.written > RatioFloor && x.written > x.opts.MaxRatio*max(x.src.N, 1) {
				return x.errorf(orig, "%d bytes extracted from %d compressed bytes exceeds the %d:1 ratio limit (MaxRatio); refusing a possible decompression bomb", x.written, x.src.N, x.opts.MaxRatio)
			}
			if _, err := w.Write(x.buf[:n]); err != nil {
				return x.errorf(orig, "%v", err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return x.errorf(orig, "reading: %v", rerr)
		}
	}
}

// maxLinkHops bounds the symlinks followed while resolving one target: the
// kernel's MAXSYMLINKS (40), which also counts the link itself.
const maxLinkHops = 40

// escapes reports why the symlink at name pointing to target would resolve
// outside the tree, or "" if it stays inside. The target is resolved
// component by component in the tree as extracted so far, following the
// links already created (so d/s -> ../.. followed by l -> d/s/../x is seen
// to climb out, though each is lexically inside). Components that do not
// exist yet are taken as directories; finish checks every link again in
// the final tree, so a later entry cannot redirect an earlier link.
func (x *extractor) escapes(name, target string) string {
	if target == "" {
		return "empty symlink target"
	}
	if path.IsAbs(target) {
		return "absolute symlink target"
	}
	var cur []string // resolved components, from the tree's root
	todo := append(strings.Split(path.Dir(name), "/"), strings.Split(target, "/")...)
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return "climbs above the tree's root"
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := strings.Join(append(cur, c), "/")
		fi, err := x.root.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = append(cur, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			// A loop: the kernel gives up (ELOOP) no later than this, so
			// the link resolves nowhere, in particular not outside.
			return ""
		}
		t, err := x.root.Readlink(p)
		if err != nil {
			return err.Error()
		}
		if path.IsAbs(t) {
			return fmt.Sprintf("goes through %q, an absolute link", p)
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return ""
}

func (x *extractor) symlink(orig, name, target string, mt time.Time) error {
	if why := x.escapes(name, target); why != "" {
		return x.errorf(orig, "symlink to %q leads outside the tree (%s)", target, why)
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if err := x.removeExisting(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return x.errorf(orig, "%v", err)
	}
	x.symlinks = append(x.symlinks, symlinkTime{name, mt})
	return nil
}

// recheckLinks resolves every extracted symlink again in the final tree: a
// link replaced after another was checked through it must not open a way
// out.
func (x *extractor) recheckLinks() error {
	for _, s := range x.symlinks {
		t, err := x.root.Readlink(s.name)
		if err != nil {
			continue // replaced by a file or removed
		}
		if why := x.escapes(s.name, t); why != "" {
			return x.errorf(s.name, "symlink to %q leads outside the tree (%s)", t, why)
		}
	}
	return nil
}

func (x *extractor) hardlink(orig, name, target string) error {
	if target == "" || !x.files[target] {
		return x.errorf(orig, "hardlink to %q, which is not a regular file extracted earlier from this archive", target)
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if err := x.removeExisting(name); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return x.errorf(orig, "%v", err)
	}
	x.files[name] = true
	return nil
}

func (x *extractor) when(mt time.Time) time.Time {
	if !x.opts.Mtime.IsZero() {
		return x.opts.Mtime
	}
	return mt
}

func (x *extractor) setTime(name string, mt time.Time) error {
	t := x.when(mt)
	if t.IsZero() {
		return nil
	}
	return x.root.Chtimes(name, t, t)
}

// finish sets symlink and directory times last, since creating entries in a
// directory changes its mtime.
func (x *extractor) finish() error {
	if err := x.recheckLinks(); err != nil {
		return err
	}
	for _, s := range x.symlinks {
		t := x.when(s.t)
		if t.IsZero() {
			continue
		}
		if err := x.lchtimes(s.name, t); err != nil {
			return x.errorf(s.name, "setting symlink time: %v", err)
		}
	}
	// Deepest first is not required for mtimes, but directories must be
	// chmodded after their contents exist.
	for d, mt := range x.dirs {
		if err := x.root.Chmod(d, 0o755); err != nil {
			return x.errorf(d, "%v", err)
		}
		if mt.IsZero() {
			mt = time.Unix(0, 0) // implicit directory: no entry, fixed time
		}
		if err := x.setTime(d, mt); err != nil {
			return x.errorf(d, "%v", err)
		}
	}
	return nil
}

// lchtimes sets the times of a symlink itself, relative to a directory
// opened through the root (so it cannot leave the tree).
func (x *extractor) lchtimes(name string, t time.Time) error {
	dir, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(int(dir.Fd()), path.Base(name), ts, unix.AT_SYMLINK_NOFOLLOW)
}

func (x *extractor) zip(f *os.File, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("extract %s: zip: %v", x.archive, err)
	}
	// Zip members are read through the ReaderAt; count the compressed size
	// up front for the ratio check.
	x.src.N = size
	for _, zf := range zr.File {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		name, err := x.clean(zf.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if err := x.countEntry(zf.Name); err != nil {
			return err
		}
		mode := zf.Mode()
		mt := zf.Modified
		switch {
		case mode.IsDir():
			if err := x.mkdir(name, mt); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			rc, err := zf.Open()
			if err != nil {
				return x.errorf(zf.Name, "%v", err)
			}
			target, err := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if err != nil {
				return x.errorf(zf.Name, "%v", err)
			}
			if err := x.symlink(zf.Name, name, string(target), mt); err != nil {
				return err
			}
		case mode.IsRegular():
			rc, err := zf.Open()
			if err != nil {
				return x.errorf(zf.Name, "%v", err)
			}
			err = x.file(zf.Name, name, int64(mode.Perm()), int64(zf.UncompressedSize64), mt, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return x.errorf(zf.Name, "special file (%v) refused", mode.Type())
		}
	}
	return nil
}

// SourceDateEpoch returns the newest entry mtime (Unix seconds) in the
// archive at archivePath, for SOURCE_DATE_EPOCH. It reads the whole archive
// (decompressing it) but writes nothing.
func SourceDateEpoch(ctx context.Context, archivePath string) (int64, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	format, err := detect(archivePath, head[:n])
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	var newest int64
	found := false
	note := func(t time.Time) {
		if u := t.Unix(); !found || u > newest {
			newest, found = u, true
		}
	}
	switch format {
	case Zip:
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		zr, err := zip.NewReader(f, fi.Size())
		if err != nil {
			return 0, fmt.Errorf("%s: zip: %v", archivePath, err)
		}
		for _, zf := range zr.File {
			note(zf.Modified)
		}
	default:
		var r io.Reader = f
		if format == Deb {
			r, format, err = debData(f, archivePath)
			if err != nil {
				return 0, err
			}
		}
		dr, closer, err := decompress(format, r)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", archivePath, err)
		}
		defer closer()
		tr := tar.NewReader(dr)
		for {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %v", archivePath, err)
			}
			if hdr.Typeflag == tar.TypeXGlobalHeader {
				continue
			}
			note(hdr.ModTime)
		}
	}
	if !found {
		return 0, fmt.Errorf("%s: archive has no entries", archivePath)
	}
	return newest, nil
}
