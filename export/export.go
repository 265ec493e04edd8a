// Package export holds what the export formats share (export/oci, export/deb):
// reading a monogres package into memory, the shared libraries its ELF files
// need, and deterministic tar streams (sorted entries, one mtime, uid/gid 0
// unless a file says otherwise, no user names).
package export

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/monogres/monogres/internal/archive"
)

// Entry is one archive entry held in memory.
type Entry struct {
	Header tar.Header
	Data   []byte
}

// ReadPackage reads a monogres package (.tar.zst) into memory.
func ReadPackage(pkgPath string) ([]Entry, error) {
	f, err := os.Open(pkgPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := archive.Decompress(".zst", f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkgPath, err)
	}
	defer zr.Close()
	return readTar(pkgPath, zr)
}

func readTar(name string, r io.Reader) ([]Entry, error) {
	var out []Entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Entry{Header: *h, Data: b})
	}
}

// ReadDir reads the tree at dir as entries (sorted, modes and symlinks
// kept, owner root), for a base image made from a composed root.
func ReadDir(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Header: tar.Header{Name: filepath.ToSlash(rel), Mode: int64(fi.Mode().Perm())}}
		switch {
		case fi.IsDir():
			e.Header.Typeflag, e.Header.Name = tar.TypeDir, e.Header.Name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.Header.Typeflag, e.Header.Linkname, e.Header.Mode = tar.TypeSymlink, t, 0o777
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Header.Typeflag, e.Data = tar.TypeReg, b
		default:
			return nil // device nodes and sockets have no place in an image
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Prefixed returns entries moved below prefix ("usr/local/pgsql"), with
// the directories leading to it.
func Prefixed(prefix string, entries []Entry) []Entry {
	prefix = strings.Trim(prefix, "/")
	var out []Entry
	parts := strings.Split(prefix, "/")
	for i := range parts {
		out = append(out, Dir(strings.Join(parts[:i+1], "/"), 0o755, 0, 0))
	}
	for _, e := range entries {
		e.Header.Name = prefix + "/" + e.Header.Name
		out = append(out, e)
	}
	return out
}

// Dir is a directory entry.
func Dir(name string, mode int64, uid, gid int) Entry {
	return Entry{Header: tar.Header{Name: strings.TrimSuffix(name, "/") + "/", Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: gid}}
}

// File is a regular file entry.
func File(name string, mode int64, data []byte) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}, Data: data}
}

// Tar writes entries as a deterministic tar: sorted by name (a later entry
// of the same name wins), mtime epoch, PAX format, no user or group names.
func Tar(entries []Entry, epoch int64) []byte {
	byName := map[string]Entry{}
	for _, e := range entries {
		byName[strings.TrimSuffix(e.Header.Name, "/")] = e
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mtime := time.Unix(epoch, 0)
	for _, n := range names {
		e := byName[n]
		h := tar.Header{
			Typeflag: e.Header.Typeflag, Name: e.Header.Name, Linkname: e.Header.Linkname,
			Mode: e.Header.Mode, Uid: e.Header.Uid, Gid: e.Header.Gid, Size: int64(len(e.Data)),
			ModTime: mtime, Format: tar.FormatPAX,
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		tw.WriteHeader(&h) // in memory with valid headers: cannot fail
		if h.Typeflag == tar.TypeReg {
			tw.Write(e.Data)
		}
	}
	tw.Close()
	return b.Bytes()
}

// Needed lists the shared libraries (DT_NEEDED sonames) the ELF files
// among entries need and that entries do not provide themselves (by file
// name or DT_SONAME), sorted.
func Needed(entries []Entry) ([]string, error) {
	have := map[string]bool{}
	need := map[string]bool{}
	for _, e := range entries {
		if e.Header.Typeflag != tar.TypeReg || !bytes.HasPrefix(e.Data, []byte("\x7fELF")) {
			continue
		}
		have[path.Base(e.Header.Name)] = true
		f, err := elf.NewFile(bytes.NewReader(e.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Header.Name, err)
		}
		if sonames, err := f.DynString(elf.DT_SONAME); err == nil {
			for _, so := range sonames {
				have[so] = true // libpq.so.5 is the file libpq.so.5.15
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Header.Name, err)
		}
		for _, l := range libs {
			need[l] = true
		}
	}
	var out []string
	for l := range need {
		if !have[l] {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out, nil
}

// glibc lists the sonames Debian's libc6 ships.
var glibc = []string{"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libresolv.so.2", "libutil.so.1",
	"ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}

// Provider is the Debian package providing soname, as far as monogres
// knows without a recorded runtime closure (libc6 and libgcc-s1); "" if
// unknown.
func Provider(soname string) string {
	switch {
	case slices.Contains(glibc, soname):
		return "libc6"
	case soname == "libgcc_s.so.1":
		return "libgcc-s1"
	}
	return ""
}
