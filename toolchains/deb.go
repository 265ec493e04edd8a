package toolchains

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/store"
)

// A pool holds the regular files of every extracted .deb once, named by
// content and mode, so roots hard-link them instead of holding copies:
//
//	<dir>/files/<sha256>-<mode>   a file (mode in octal), mtime RootEpoch
//	<dir>/debs/<deb>-<opts>.json  the entries of one .deb (see debEntry)
//
// A .deb is decompressed once per pool; every later root replays its
// entry list. Files and lists are written under temporary names and
// linked or renamed into place, so concurrent composers share a pool.
type pool struct{ dir string }

// debEntry is one entry of a .deb as it lands in a root: its
// root-relative path after the merged-/usr redirect, type ('d' directory,
// 'f' file, 'l' symlink), permission bits (and sticky bit), and the pool
// file's sha256 and size or the symlink's target.
type debEntry struct {
	Type byte        `json:"t"`
	Path string      `json:"p"`
	Mode fs.FileMode `json:"m,omitempty"`
	Sum  string      `json:"s,omitempty"`
	Size int64       `json:"z,omitempty"`
	Link string      `json:"l,omitempty"`
}

func (p pool) file(sum string, mode fs.FileMode) string {
	return filepath.Join(p.dir, "files", fmt.Sprintf("%s-%04o", sum, mode))
}

func (p pool) list(deb Package, opts Options) string {
	return filepath.Join(p.dir, "debs", deb.SHA256+"-"+opts.key()[:16]+".json")
}

// entries returns the entry list of deb, extracting it into the pool
// first if the pool has none.
func (p pool) entries(ctx context.Context, deb Package, open Opener, opts Options) ([]debEntry, error) {
	if b, err := os.ReadFile(p.list(deb, opts)); err == nil {
		var ents []debEntry
		if json.Unmarshal(b, &ents) == nil {
			return ents, nil
		}
	}
	ents, err := p.extract(ctx, deb, open, opts)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(ents)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(p.list(deb, opts), b); err != nil {
		return nil, fmt.Errorf("toolchains: %w", err)
	}
	return ents, nil
}

// extract streams deb's data.tar (internal/archive reads the ar, the
// compression and the tar, and refuses unsafe names) into the pool, and
// checks the .deb's size and sha256. Nothing is recorded for a .deb that
// fails the check; pool files it left are garbage for GC.
func (p pool) extract(ctx context.Context, deb Package, open Opener, opts Options) ([]debEntry, error) {
	rc, err := open(ctx, deb)
	if err != nil {
		return nil, fmt.Errorf("toolchains: open %s: %w", deb, err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &archive.CountingReader{R: io.TeeReader(rc, h)}
	var ents []debEntry
	files := map[string]debEntry{} // for hard links
	err = archive.Walk(ctx, cr, deb.String(), func(th *tar.Header, r io.Reader) error {
		rel := opts.target(th.Name)
		if rel == "" {
			return nil
		}
		mode := fs.FileMode(th.Mode) & fs.ModePerm
		if th.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		e := debEntry{Path: rel, Mode: mode}
		switch th.Typeflag {
		case tar.TypeDir:
			e.Type = 'd'
		case tar.TypeSymlink:
			e.Type, e.Mode, e.Link = 'l', 0, th.Linkname
		case tar.TypeLink:
			t, ok := files[opts.target(th.Linkname)]
			if !ok {
				return fmt.Errorf("%s: hard link to %q, not a file extracted before it", th.Name, th.Linkname)
			}
			e = t
			e.Path = rel
		default:
			var err error
			if e.Sum, e.Size, err = p.put(r, mode); err != nil {
				return fmt.Errorf("%s: %w", th.Name, err)
			}
			e.Type = 'f'
			files[rel] = e
		}
		ents = append(ents, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("toolchains: %w", err)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, fmt.Errorf("toolchains: %s: %w", deb, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != deb.SHA256 || (deb.Size != 0 && cr.N != deb.Size) {
		return nil, fmt.Errorf("toolchains: %s: got sha256 %s size %d, want sha256 %s size %d", deb, got, cr.N, deb.SHA256, deb.Size)
	}
	return ents, nil
}

// put stores r as a pool file with mode and returns its sha256 and size.
func (p pool) put(r io.Reader, mode fs.FileMode) (string, int64, error) {
	dir := filepath.Join(p.dir, "files")
	f, err := os.CreateTemp(dir, ".tmp-")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-")
		}
	}
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Chmod(mode) // explicitly: the umask must not matter
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = lutimes(tmp, RootEpoch)
	}
	if err != nil {
		return "", 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Link(tmp, p.file(sum, mode)); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", 0, err
	}
	return sum, n, nil
}

// target maps a cleaned tar member name to its root-relative path,
// applying the merged-/usr redirect; "" means not extracted (excluded).
func (o Options) target(name string) string {
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	if rel == "" {
		return ""
	}
	top, _, _ := strings.Cut(rel, "/")
	if slices.Contains(usrMerged, top) {
		rel = "usr/" + rel
	}
	for _, ex := range o.Exclude {
		if strings.HasPrefix(rel+"/", ex) || strings.HasPrefix(rel, ex) {
			return ""
		}
	}
	return rel
}

// writeAtomic writes b to name (store.WriteFileAtomic), creating its
// directory.
func writeAtomic(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return store.WriteFileAtomic(name, b, 0o644)
}
