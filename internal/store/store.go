// Package store owns the content-addressed store (CAS) of monogres: every
// fetched input lives at cas/<sha256[:2]>/<sha256>, named by the sha256 of its
// bytes.
//
// Invariants:
//   - Nothing unverified enters cas/: bytes are written to a file in tmp/ while
//     being hashed, fsynced, and renamed into cas/ only when the sha256 (and the
//     size, when known) match. rename(2) is atomic, so readers never see a torn
//     entry.
//   - Presence means "hash checked": Has, Check and Open re-hash an entry
//     unless a memo of an earlier check (inode, size, mtime, ctime) still
//     matches it. A corrupt, truncated or symlinked entry is store damage:
//     it is evicted and reported as a *DamageError.
//   - Several monogres processes may share one store: writers of the same entry
//     serialize on a per-entry file lock (tmp/<sha256>.lock), and correctness
//     never depends on that lock (the rename is the commit point).
//
// Layout under the store directory:
//
//	cas/    verified blobs, read-only files
//	checked.log memos of the last check of each blob (see Check, memo.go)
//	tmp/    downloads in flight (<sha256>.partial, kept for resume), locks
//	ac/     action cache, owned by the build engine (see ACDir)
//	roots/  composed toolchain roots, owned by the toolchain engine (see RootsDir)
//	apt/    private apt configuration and state used by the fetch layer
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// Store is an opened store directory. It is safe for concurrent use by many
// goroutines and by many processes.
type Store struct {
	dir    string
	memo   memos
	hashed atomic.Int64 // entries re-hashed by this Store (for tests)
}

// DefaultDir returns $MONOGRES_STORE, or $XDG_CACHE_HOME/monogres, or
// ~/.cache/monogres.
func DefaultDir() (string, error) {
	if d := os.Getenv("MONOGRES_STORE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "monogres"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: cannot find a store directory: set MONOGRES_STORE or XDG_CACHE_HOME (%v)", err)
	}
	return filepath.Join(home, ".cache", "monogres"), nil
}

// Open opens (creating if needed) the store at dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty store directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	for _, sub := range []string{"cas", "tmp", "ac", "roots"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("store: %v", err)
		}
	}
	return &Store{dir: abs}, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

// TmpDir is where in-flight files live; it is on the same file system as cas/.
func (s *Store) TmpDir() string { return filepath.Join(s.dir, "tmp") }

// ACDir is the action-cache directory, owned by the build engine.
func (s *Store) ACDir() string { return filepath.Join(s.dir, "ac") }

// RootsDir is the directory for composed toolchain roots.
func (s *Store) RootsDir() string { return filepath.Join(s.dir, "roots") }

// ValidSHA256 reports whether s is 64 lowercase hex digits, the name of a
// store entry and the form of every sha256 in a lock.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path is where the blob sha256 lives (or would live) in cas/. It does not
// check that the entry exists or is intact: call Has or Open first, or use
// VerifyEntry before extracting by path.
func (s *Store) Path(sha string) string {
	if len(sha) < 2 {
		return filepath.Join(s.dir, "cas", "invalid", sha)
	}
	return filepath.Join(s.dir, "cas", sha[:2], sha)
}

// Has reports whether cas/ holds sha with bytes that hash to sha. It is
// cheap when the entry was checked before and has not changed since (a
// stat and a memo read, see Check); a damaged entry is evicted and Has
// reports false, so a fetch gets it again.
func (s *Store) Has(sha string) bool {
	_, err := s.Check(sha)
	return err == nil
}

// Size returns the size of the checked entry sha, or false if it is absent
// or damaged (see Has).
func (s *Store) Size(sha string) (int64, bool) {
	n, err := s.Stat(sha)
	return n, err == nil
}

// DamageError reports a cas/ entry that is no longer what its name says:
// its bytes hash to something else (a flipped byte, a truncation), or it
// is not a regular file (a symlink, a directory). The entry has been
// evicted from the store; fetching it again repairs the store. It is never
// a problem of the lock.
type DamageError struct {
	SHA256 string // the entry's name
	Reason string // "its 12 bytes hash to …", "it is a symlink"
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("store damage: entry %s: %s; evicted it from the store, run `monogres fetch` to get it again", e.SHA256, e.Reason)
}

// Check returns the path of the entry sha after making sure its bytes hash
// to sha. The result of a check is memoized per entry (inode, size, mtime
// and ctime, in checked.log); any change to the file forces a re-hash, and
// an unchanged entry costs one fstatat(2). An absent entry gives an error
// wrapping fs.ErrNotExist, a damaged one a *DamageError (and the entry is
// evicted).
func (s *Store) Check(sha string) (string, error) {
	if _, err := s.Stat(sha); err != nil {
		return "", err
	}
	return s.Path(sha), nil
}

// Stat returns the size of the entry sha once its bytes are known to hash
// to sha; errors are as for Check.
func (s *Store) Stat(sha string) (int64, error) {
	if !ValidSHA256(sha) {
		return 0, fmt.Errorf("store: %q is not a sha256", sha)
	}
	var st unix.Stat_t
	err := unix.Fstatat(unix.AT_FDCWD, s.Path(sha), &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return 0, s.absent(sha)
	case err != nil:
		return 0, fmt.Errorf("store: stat %s: %v", s.Path(sha), err)
	case st.Mode&unix.S_IFMT == unix.S_IFREG && s.memoOf(sha) == stampOfUnix(&st):
		return st.Size, nil
	}
	// Changed, never checked, or not a regular file: Open decides.
	f, err := s.Open(sha)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("store: %v", err)
	}
	return fi.Size(), nil
}

func (s *Store) absent(sha string) error {
	return fmt.Errorf("sha256 %s is not in the store %s (run `monogres fetch`): %w", sha, s.dir, fs.ErrNotExist)
}

// VerifyEntry is Check, for callers that extract an entry by path.
func (s *Store) VerifyEntry(sha string) (string, error) { return s.Check(sha) }

// Open returns the entry sha positioned at offset 0, once its bytes are
// known to hash to sha (re-hashed unless the memo of an earlier check still
// matches the open file). The file is opened without following symlinks
// and checked through the same descriptor, so what is returned is what was
// checked. Errors are as for Check.
func (s *Store) Open(sha string) (*os.File, error) {
	return s.open(sha, false)
}

func (s *Store) open(sha string, force bool) (*os.File, error) {
	if !ValidSHA256(sha) {
		return nil, fmt.Errorf("store: %q is not a sha256", sha)
	}
	p := s.Path(sha)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, s.absent(sha)
	case errors.Is(err, unix.ELOOP):
		return nil, s.evict(sha, "it is a symlink, not a file")
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %v", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %v", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, s.evict(sha, fmt.Sprintf("it is a %v, not a regular file", fi.Mode().Type()))
	}
	st := stampOf(fi)
	if !force && s.memoOf(sha) == st {
		return f, nil
	}
	s.hashed.Add(1)
	got, n, err := hashReader(context.Background(), f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: reading %s: %v", p, err)
	}
	if got != sha {
		f.Close()
		return nil, s.evict(sha, fmt.Sprintf("its %d bytes hash to %s", n, got))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %v", err)
	}
	s.remember(sha, st)
	return f, nil
}

// evict removes a damaged entry (and its memo) and returns the error that
// says so.
func (s *Store) evict(sha, reason string) error {
	os.RemoveAll(s.Path(sha))
	s.forget(sha)
	return &DamageError{SHA256: sha, Reason: reason}
}

// MismatchError reports bytes whose sha256 or size differ from what was
// expected. Nothing was stored. The fetch layer wraps it with the input name,
// the URL and advice.
type MismatchError struct {
	WantSHA256, GotSHA256 string
	WantSize, GotSize     int64 // WantSize 0 = unknown
}

func (e *MismatchError) Error() string {
	if e.GotSHA256 == "" {
		return fmt.Sprintf("store: got more than the expected %d bytes for sha256 %s", e.WantSize, e.WantSHA256)
	}
	return fmt.Sprintf("store: content mismatch: got sha256 %s (%d bytes), want sha256 %s (%s)", e.GotSHA256, e.GotSize, e.WantSHA256, sizeString(e.WantSize))
}

func sizeString(n int64) string {
	if n == 0 {
		return "size unknown"
	}
	return fmt.Sprintf("%d bytes", n)
}

// Put copies r into the store, verifying it is sha256 wantSHA256 (and
// wantSize bytes when wantSize > 0). If the entry is already present Put
// returns nil without reading r.
func (s *Store) Put(ctx context.Context, r io.Reader, wantSHA256 string, wantSize int64) error {
	w, err := s.Create(ctx, wantSHA256, wantSize)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Discard()
	if err := w.Reset(); err != nil {
		return err
	}
	if _, err := copyCtx(ctx, w, r); err != nil {
		return err
	}
	_, _, err = w.Commit()
	return err
}

// AddFile imports the file at path by its own hash and returns its sha256
// and size. The file is copied (hashing while copying), never moved or linked.
func (s *Store) AddFile(ctx context.Context, path string) (sha string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("store add: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("store add: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("store add: %s is not a regular file", path)
	}
	w, err := s.Create(ctx, "", 0)
	if err != nil {
		return "", 0, err
	}
	defer w.Discard()
	if _, err := copyCtx(ctx, w, f); err != nil {
		return "", 0, fmt.Errorf("store add %s: %v", path, err)
	}
	return w.Commit()
}

// Writer writes one blob into the store: bytes go to a file in tmp/ and into
// a sha256 at once; Commit checks and renames into cas/. A Writer for a known
// sha256 holds the per-entry lock and keeps its partial file
// (tmp/<sha256>.partial) across Discard, so a later Writer can resume.
type Writer struct {
	s        *Store
	f        *os.File
	h        hash.Hash
	n        int64
	want     string
	wantSize int64
	lock     *flock.Flock
	done     bool
}

// Create starts writing the blob wantSHA256 (wantSize 0 = unknown). With a
// known sha256 it takes the entry's file lock (waiting for other processes
// writing the same blob), returns an error wrapping fs.ErrExist if the blob
// is already present, and opens the partial file left by an interrupted
// download: Offset says how many bytes it holds (already hashed). With
// wantSHA256 == "" (hash unknown) the blob is named by its hash at Commit.
func (s *Store) Create(ctx context.Context, wantSHA256 string, wantSize int64) (*Writer, error) {
	w := &Writer{s: s, h: sha256.New(), want: wantSHA256, wantSize: wantSize}
	if wantSHA256 == "" {
		f, err := os.CreateTemp(s.TmpDir(), "new-*")
		if err != nil {
			return nil, fmt.Errorf("store: %v", err)
		}
		w.f = f
		return w, nil
	}
	if !ValidSHA256(wantSHA256) {
		return nil, fmt.Errorf("store: %q is not a sha256 (64 lowercase hex digits)", wantSHA256)
	}
	if s.Has(wantSHA256) {
		return nil, fmt.Errorf("store: %s: %w", wantSHA256, fs.ErrExist)
	}
	lk := flock.New(filepath.Join(s.TmpDir(), wantSHA256+".lock"))
	ok, err := lk.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("store: locking %s: %v", wantSHA256, err)
	}
	if s.Has(wantSHA256) { // another process finished it while we waited
		lk.Unlock()
		return nil, fmt.Errorf("store: %s: %w", wantSHA256, fs.ErrExist)
	}
	w.lock = lk
	f, err := os.OpenFile(filepath.Join(s.TmpDir(), wantSHA256+".partial"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		lk.Unlock()
		return nil, fmt.Errorf("store: %v", err)
	}
	w.f = f
	n, err := copyCtx(ctx, w.h, f)
	if err != nil {
		w.Discard()
		return nil, fmt.Errorf("store: reading partial %s: %v", f.Name(), err)
	}
	w.n = n
	if wantSize > 0 && n > wantSize {
		if err := w.Reset(); err != nil {
			w.Discard()
			return nil, err
		}
	}
	return w, nil
}

// Offset is the number of bytes written (including a resumed prefix).
func (w *Writer) Offset() int64 { return w.n }

// Reset truncates the partial file to zero, to restart from the beginning
// (for example when a server ignores a Range request).
func (w *Writer) Reset() error {
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("store: %v", err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("store: %v", err)
	}
	w.h.Reset()
	w.n = 0
	return nil
}

// Write appends p. It fails once more than the expected size is written.
func (w *Writer) Write(p []byte) (int, error) {
	if w.wantSize > 0 && w.n+int64(len(p)) > w.wantSize {
		return 0, &MismatchError{WantSHA256: w.want, WantSize: w.wantSize}
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Commit fsyncs the file, checks its sha256 and size, and renames it into
// cas/. On a mismatch the partial file is removed and a *MismatchError is
// returned: nothing is stored. Commit ends the Writer either way.
func (w *Writer) Commit() (sha string, size int64, err error) {
	if w.done {
		return "", 0, errors.New("store: writer already finished")
	}
	defer w.finish()
	got := hex.EncodeToString(w.h.Sum(nil))
	if (w.want != "" && got != w.want) || (w.wantSize > 0 && w.n != w.wantSize) {
		os.Remove(w.f.Name())
		return "", 0, &MismatchError{WantSHA256: w.want, GotSHA256: got, WantSize: w.wantSize, GotSize: w.n}
	}
	if err := w.f.Chmod(0o444); err != nil {
		return "", 0, fmt.Errorf("store: %v", err)
	}
	if err := w.f.Sync(); err != nil {
		return "", 0, fmt.Errorf("store: fsync %s: %v", w.f.Name(), err)
	}
	dst := w.s.Path(got)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, fmt.Errorf("store: %v", err)
	}
	if w.s.Has(got) {
		os.Remove(w.f.Name())
		return got, w.n, nil
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("store: %v", err)
	}
	syncDir(filepath.Dir(dst))
	if fi, err := os.Lstat(dst); err == nil {
		w.s.remember(got, stampOf(fi))
	}
	return got, w.n, nil
}

// Discard ends the Writer without committing. A non-empty partial file of a
// known sha256 is kept for resume; an anonymous temp file is removed. Calling
// Discard after Commit is a no-op, so `defer w.Discard()` is safe.
func (w *Writer) Discard() {
	if w.done {
		return
	}
	if w.want == "" || w.n == 0 {
		os.Remove(w.f.Name())
	}
	w.finish()
}

// Abort ends the Writer and removes its partial file, for bytes known to be
// wrong (a resume must not start from them).
func (w *Writer) Abort() {
	if w.done {
		return
	}
	os.Remove(w.f.Name())
	w.finish()
}

func (w *Writer) finish() {
	w.done = true
	w.f.Close()
	if w.lock != nil {
		w.lock.Unlock()
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Checked int      // entries re-hashed
	Bytes   int64    // bytes re-hashed
	Corrupt []string // sha256 of entries found corrupt and evicted
}

// Verify re-hashes every entry in cas/ (in parallel, jobs at once; jobs < 1
// means 2), evicting corrupt ones. The error is non-nil if any entry was
// corrupt (it lists them) or the store could not be read.
func (s *Store) Verify(ctx context.Context, jobs int) (VerifyReport, error) {
	var rep VerifyReport
	shas, err := s.List()
	if err != nil {
		return rep, err
	}
	if jobs < 1 {
		jobs = 2
	}
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sha := range work {
				if ctx.Err() != nil {
					continue
				}
				f, err := s.open(sha, true)
				var de *DamageError
				mu.Lock()
				switch {
				case errors.As(err, &de):
					rep.Corrupt = append(rep.Corrupt, sha)
				case err != nil:
					firstErr = cmpErr(firstErr, err)
				default:
					if fi, err := f.Stat(); err == nil {
						rep.Bytes += fi.Size()
					}
					f.Close()
				}
				rep.Checked++
				mu.Unlock()
			}
		}()
	}
	for _, sha := range shas {
		if ctx.Err() != nil {
			break
		}
		work <- sha
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return rep, fmt.Errorf("store verify: %v", firstErr)
	}
	if len(rep.Corrupt) > 0 {
		slices.Sort(rep.Corrupt)
		return rep, fmt.Errorf("store verify: %d corrupt entries evicted (run `monogres fetch` to get them again): %v", len(rep.Corrupt), rep.Corrupt)
	}
	return rep, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// List returns the sha256 of every entry in cas/, sorted.
func (s *Store) List() ([]string, error) {
	var out []string
	prefixes, err := os.ReadDir(filepath.Join(s.dir, "cas"))
	if err != nil {
		return nil, fmt.Errorf("store: %v", err)
	}
	for _, p := range prefixes {
		if !p.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, "cas", p.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: %v", err)
		}
		for _, e := range ents {
			if ValidSHA256(e.Name()) && e.Name()[:2] == p.Name() {
				out = append(out, e.Name())
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// GCReport is the result of GC.
type GCReport struct {
	Removed []string // sha256 of removed (or, with dryRun, removable) entries
	Bytes   int64    // their total size
	Kept    int      // entries kept
}

// GC removes every cas/ entry not in keep (and stale partial downloads of
// those entries). With dryRun it only reports what it would remove. Entries
// being written by another process (entry lock held) are left alone.
func (s *Store) GC(keep map[string]bool, dryRun bool) (GCReport, error) {
	var rep GCReport
	shas, err := s.List()
	if err != nil {
		return rep, err
	}
	for _, sha := range shas {
		if keep[sha] {
			rep.Kept++
			continue
		}
		fi, err := os.Stat(s.Path(sha))
		if err != nil {
			continue
		}
		rep.Removed = append(rep.Removed, sha)
		rep.Bytes += fi.Size()
		if !dryRun {
			if err := os.Remove(s.Path(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, fmt.Errorf("store gc: %v", err)
			}
			s.forget(sha)
		}
	}
	if !dryRun {
		// checked/ held one memo file per entry before checked.log.
		os.RemoveAll(filepath.Join(s.dir, "checked"))
	}
	// Partial downloads of blobs nobody keeps.
	ents, err := os.ReadDir(s.TmpDir())
	if err != nil {
		return rep, fmt.Errorf("store gc: %v", err)
	}
	for _, e := range ents {
		name := e.Name()
		if len(name) < 64 || !ValidSHA256(name[:64]) || keep[name[:64]] || name[64:] != ".partial" {
			continue
		}
		lk := flock.New(filepath.Join(s.TmpDir(), name[:64]+".lock"))
		if ok, _ := lk.TryLock(); !ok {
			continue
		}
		if info, err := e.Info(); err == nil {
			rep.Bytes += info.Size()
		}
		if !dryRun {
			os.Remove(filepath.Join(s.TmpDir(), name))
		}
		lk.Unlock()
	}
	return rep, nil
}

// copyBufs holds the 1 MiB buffers of copyCtx: allocating (and zeroing)
// one per call dominated putting or hashing many small files.
var copyBufs = sync.Pool{New: func() any { return new([1 << 20]byte) }}

// copyCtx copies with a 1 MiB buffer, checking ctx between chunks.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[1 << 20]byte)
	defer copyBufs.Put(bp)
	buf := bp[:]
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := src.Read(buf)
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// CopyContext is the copy loop the store uses (1 MiB buffer, ctx checked
// between chunks), exported for the fetch layer.
func CopyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	return copyCtx(ctx, dst, src)
}

func hashReader(ctx context.Context, r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := copyCtx(ctx, h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// HashFile returns the sha256 and size of the file at path.
func HashFile(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return hashReader(ctx, f)
}
