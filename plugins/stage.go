package plugins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing/fstest"
)

// stageMemoryMax bounds the size of the trees stageMemory copies.
const stageMemoryMax = 32 << 20

// stageMemory copies src into memory, as stage copies it to disk (regular
// files keep their permission bits plus owner write, directories are
// 0755, other file types are skipped), and returns it with the paths of
// its regular files, sorted. The copy is an fstest.MapFS: a plain map,
// through which nothing but the copied bytes can be reached. ok is false,
// with nothing copied, when src holds a symlink (stage recreates those
// inside a directory served through os.Root) or more than max bytes. A
// nil src is an empty tree.
func stageMemory(src fs.FS, max int64) (tree fstest.MapFS, files []string, ok bool, err error) {
	tree, files = fstest.MapFS{}, []string{}
	if src == nil {
		return tree, files, true, nil
	}
	var total int64
	errFallback := errors.New("stage on disk")
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case p == ".":
		case t.IsDir():
			tree[p] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		case t.IsRegular():
			b, mode, err := readRegular(src, p, max-total)
			if err != nil {
				return err
			}
			total += int64(len(b))
			tree[p] = &fstest.MapFile{Data: b, Mode: mode.Perm() | 0o200}
			files = append(files, p)
		case t&fs.ModeSymlink != 0:
			return errFallback
		}
		return nil
	})
	if errors.Is(err, errFallback) || errors.Is(err, errTooBig) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	return tree, files, true, nil // WalkDir visits in lexical order
}

var errTooBig = errors.New("tree too big to stage in memory")

// readRegular reads the regular file p of src, failing with errTooBig
// past max bytes.
func readRegular(src fs.FS, p string, max int64) ([]byte, fs.FileMode, error) {
	in, err := src.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: changed type while staging", p)
	}
	if info.Size() > max {
		return nil, 0, errTooBig
	}
	b, err := io.ReadAll(io.LimitReader(in, max+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) > max {
		return nil, 0, errTooBig
	}
	return b, info.Mode(), nil
}

// stage copies src into dir, which must exist and be empty, and returns the
// slash-separated paths of its regular files, sorted. Directories and regular
// files are copied; symlinks are recreated with the same target when src can
// read them (fs.ReadLinkFS) and skipped otherwise; other file types are
// skipped. The copy is served through os.Root, which refuses to follow a
// symlink out of the tree. A nil src stages an empty tree.
func stage(src fs.FS, dir string) ([]string, error) {
	files := []string{}
	if src == nil {
		return files, nil
	}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		switch t := d.Type(); {
		case t.IsDir():
			return os.Mkdir(dst, 0o755)
		case t.IsRegular():
			files = append(files, p)
			return copyFile(src, p, dst)
		case t&fs.ModeSymlink != 0:
			rl, ok := src.(fs.ReadLinkFS)
			if !ok {
				return nil
			}
			target, err := rl.ReadLink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil // WalkDir visits in lexical order
}

func copyFile(src fs.FS, p, dst string) error {
	in, err := src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: changed type while staging", p)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
