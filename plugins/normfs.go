package plugins

import (
	"errors"
	"io"
	"io/fs"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// normFS hides what differs between two staging copies of the same tree:
// every file and directory reports mtime (and, through wazero, atime and
// ctime) = the fixed epoch, and no inode, device or link count. It exposes
// only reading.
type normFS struct {
	fsys  fs.FS
	mtime time.Time
}

func (n normFS) Open(name string) (fs.File, error) {
	f, err := n.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return normFile{f: f, mtime: n.mtime}, nil
}

// normFile implements fs.ReadDirFile, io.Seeker and io.ReaderAt, and
// deliberately not the (*os.File).Readdir method that leaks inodes.
type normFile struct {
	f     fs.File
	mtime time.Time
}

func (f normFile) Read(p []byte) (int, error) { return f.f.Read(p) }
func (f normFile) Close() error               { return f.f.Close() }

func (f normFile) Stat() (fs.FileInfo, error) {
	info, err := f.f.Stat()
	if err != nil {
		return nil, err
	}
	return normInfo{info, f.mtime}, nil
}

func (f normFile) Seek(offset int64, whence int) (int64, error) {
	if s, ok := f.f.(io.Seeker); ok {
		return s.Seek(offset, whence)
	}
	return 0, errors.ErrUnsupported
}

func (f normFile) ReadAt(p []byte, off int64) (int, error) {
	if r, ok := f.f.(io.ReaderAt); ok {
		return r.ReadAt(p, off)
	}
	return 0, errors.ErrUnsupported
}

func (f normFile) ReadDir(n int) ([]fs.DirEntry, error) {
	d, ok := f.f.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Err: errors.New("not a directory")}
	}
	entries, err := d.ReadDir(n)
	for i, e := range entries {
		entries[i] = normEntry{e, f.mtime}
	}
	return entries, err
}

type normEntry struct {
	fs.DirEntry
	mtime time.Time
}

func (e normEntry) Info() (fs.FileInfo, error) {
	info, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return normInfo{info, e.mtime}, nil
}

type normInfo struct {
	fs.FileInfo
	mtime time.Time
}

func (i normInfo) ModTime() time.Time { return i.mtime }
func (i normInfo) Sys() any           { return nil }

// readOnlyFS serves a normFS to wasm: every write is refused with EROFS, so
// a plugin reads "read-only file system" rather than wazero's ENOSYS.
type readOnlyFS struct{ *sysfs.ReadFS }

func newReadOnlyFS(fsys fs.FS) readOnlyFS {
	return readOnlyFS{&sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: fsys}}}
}

func (r readOnlyFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0 {
		return nil, experimentalsys.EROFS
	}
	return r.ReadFS.OpenFile(path, flag, perm)
}
