package build

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// sandboxPrefix is what every path inside a build sandbox starts with
// (SrcDir, PGDir, OutDir...); no host has it.
const sandboxPrefix = "/build/"

// CheckSandboxPaths fails when a file or symlink of the install tree at
// dir records a sandbox path (a RUNPATH /build/pg/lib, a generated script
// naming /build/src): the package would only work inside the sandbox. ELF
// files are checked section by section, without their debug sections and
// .comment (compiler command lines recorded by -g name the
// -ffile-prefix-map flags, not paths anything opens). The error names the
// file and the string.
func CheckSandboxPaths(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.Type()&fs.ModeSymlink != 0 {
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if strings.Contains(t, sandboxPrefix) {
				return fmt.Errorf("%s is a symlink to the sandbox path %s", rel, t)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		found, where, err := findSandboxPath(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if found != "" {
			return fmt.Errorf("%s records the sandbox path %q%s: the package would only work inside the build sandbox (link with a relative RUNPATH, e.g. make rpathdir='$$ORIGIN/../lib', and install without the build paths)", rel, found, where)
		}
		return nil
	})
}

// findSandboxPath returns the first sandbox path in file p and, for an ELF
// file, the section it is in.
func findSandboxPath(p string) (found, where string, err error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", "", err
	}
	if !bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		return pathAt(b, bytes.Index(b, []byte(sandboxPrefix))), "", nil
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return pathAt(b, bytes.Index(b, []byte(sandboxPrefix))), "", nil
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || strings.HasPrefix(s.Name, ".debug") || strings.HasPrefix(s.Name, ".zdebug") || s.Name == ".comment" {
			continue
		}
		if s.Offset+s.Size > uint64(len(b)) {
			continue
		}
		data := b[s.Offset : s.Offset+s.Size]
		if i := bytes.Index(data, []byte(sandboxPrefix)); i >= 0 {
			return pathAt(data, i), " (ELF section " + s.Name + ")", nil
		}
	}
	return "", "", nil
}

// pathAt is the printable string around index i of b (-1: none).
func pathAt(b []byte, i int) string {
	if i < 0 {
		return ""
	}
	start, end := i, i
	printable := func(c byte) bool { return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != ':' }
	for start > 0 && i-start < 40 && printable(b[start-1]) {
		start--
	}
	for end < len(b) && end-i < 80 && printable(b[end]) {
		end++
	}
	return string(b[start:end])
}
