package plugins

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

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
