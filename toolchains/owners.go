package toolchains

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Owners maps every file and symlink of a root composed by ComposeCached
// (its Dir) to the package that put it there (the later one, in Compose's
// order, when two ship the path), the way dpkg's .list files do for an
// installed system. Paths are root-relative, after the merged-/usr
// redirect ("usr/lib/x86_64-linux-gnu/libc.so.6"). It reads the root's
// package list and the store's entry lists; no .deb is opened.
func Owners(rootDir string) (map[string]Package, error) {
	dir := filepath.Dir(rootDir)
	pkgs, err := readPackageList(filepath.Join(dir, "packages"))
	if err != nil {
		return nil, err
	}
	lists := filepath.Join(filepath.Dir(dir), ".pool", "debs")
	owners := map[string]Package{}
	for _, p := range sortPackages(pkgs) {
		m, _ := filepath.Glob(filepath.Join(lists, p.SHA256+"-*.json"))
		if len(m) == 0 {
			return nil, fmt.Errorf("toolchains: root %s: no entry list of %s in %s", rootDir, p, lists)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			return nil, fmt.Errorf("toolchains: %w", err)
		}
		var ents []debEntry
		if err := json.Unmarshal(b, &ents); err != nil {
			return nil, fmt.Errorf("toolchains: %s: %w", m[0], err)
		}
		for _, e := range ents {
			if e.Type != 'd' {
				owners[e.Path] = p
			}
		}
	}
	return owners, nil
}

// readPackageList reads the "name arch version sha256" lines
// ComposeCached writes beside a root.
func readPackageList(path string) ([]Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %w (Owners needs a root composed by ComposeCached)", err)
	}
	defer f.Close()
	var pkgs []Package
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 {
			return nil, fmt.Errorf("toolchains: %s:%d: want name arch version sha256", path, n)
		}
		pkgs = append(pkgs, Package{Name: fs[0], Arch: fs[1], Version: fs[2], SHA256: fs[3]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("toolchains: %s: %w", path, err)
	}
	return pkgs, nil
}
