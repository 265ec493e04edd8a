package build

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/toolchains"
)

// Library is one shared library a package needs and does not contain,
// resolved in the toolchain root to the Debian package that ships it (what
// dpkg-shlibdeps finds): the runtime dependencies a host must have, or
// that bundle = true copies into the package's lib/.
type Library struct {
	Soname string `json:"soname"`
	// Path is where the root has it ("" if no searched directory has
	// it: the package cannot run anywhere).
	Path string `json:"path,omitempty"`
	// Package, Version, Arch and SHA256 (of the .deb) name its Debian
	// package.
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// NeededBy are the package's files (and libraries of the closure, by
	// soname) that need it.
	NeededBy []string `json:"needed_by"`
	// Bundled says the package carries a copy in lib/.
	Bundled bool `json:"bundled,omitempty"`
}

// libDirs are the root directories searched for a target's libraries, in
// glibc's order for a root without ld.so.cache (merged /usr: /lib is
// usr/lib).
func libDirs(arch string) []string {
	if tr := crossTriplet[arch]; tr != "" {
		return []string{"usr/lib/" + tr, "usr/" + tr + "/lib", "usr/lib"}
	}
	return []string{"usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib64"}
}

// elfNeeds lists the DT_NEEDED entries of every ELF file below tree (by
// root-relative path) and returns every file name the tree has (what it
// provides itself).
func elfNeeds(tree string) (needs map[string][]string, names map[string]bool, err error) {
	needs, names = map[string][]string{}, map[string]bool{}
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names[d.Name()] = true
		if !d.Type().IsRegular() {
			return nil
		}
		libs, ok := needed(p)
		if ok && len(libs) > 0 {
			rel, _ := filepath.Rel(tree, p)
			needs[filepath.ToSlash(rel)] = libs
		}
		return nil
	})
	return needs, names, err
}

// needed returns the DT_NEEDED entries of an ELF file; ok is false for a
// file that is not one.
func needed(p string) ([]string, bool) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	return libs, true
}

// Closure resolves, in the toolchain root at root, every library the ELF
// files below tree need that neither tree nor provided (file names the
// parent package has) holds, and the libraries those need in turn, with
// the Debian package of each (owners: toolchains.Owners). Sorted by soname.
func Closure(tree string, provided map[string]bool, root, arch string, owners map[string]toolchains.Package) ([]Library, error) {
	needs, names, err := elfNeeds(tree)
	if err != nil {
		return nil, err
	}
	return closureOf(needs, func(s string) bool { return names[s] || provided[s] }, root, arch, owners), nil
}

// closureOf resolves needs (file -> sonames) in root, transitively. has
// applies to the package's own files only: a library of the root finds
// its dependencies in the root's directories, never in the package's or
// its parent's lib/ (RUNPATH does not reach it), so it needs them from
// the root even when the package has a file of that name (PostGIS's
// libgdal needs Debian's libpq.so.5, not the Postgres package's).
func closureOf(needs map[string][]string, has func(string) bool, root, arch string, owners map[string]toolchains.Package) []Library {
	libs := map[string]*Library{}
	var queue []string
	add := func(by string, sonames []string) {
		for _, s := range sonames {
			l := libs[s]
			if l == nil {
				l = &Library{Soname: s}
				libs[s] = l
				queue = append(queue, s)
			}
			if !slices.Contains(l.NeededBy, by) {
				l.NeededBy = append(l.NeededBy, by)
			}
		}
	}
	for _, f := range slices.Sorted(mapKeys(needs)) {
		add(f, slices.DeleteFunc(slices.Clone(needs[f]), has))
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		l := libs[s]
		rel, real := findLib(root, arch, s)
		if rel == "" {
			continue
		}
		l.Path = "/" + rel
		p, ok := owners[rel]
		if !ok {
			p = owners[real]
		}
		l.Package, l.Version, l.Arch, l.SHA256 = p.Name, p.Version, p.Arch, p.SHA256
		if deps, ok := needed(filepath.Join(root, filepath.FromSlash(real))); ok {
			add(s, deps)
		}
	}
	out := make([]Library, 0, len(libs))
	for _, s := range slices.Sorted(mapKeys(libs)) {
		slices.Sort(libs[s].NeededBy)
		out = append(out, *libs[s])
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// findLib finds soname in the root's library directories for arch: the
// root-relative path found and the regular file it resolves to ("" if
// none).
func findLib(root, arch, soname string) (rel, real string) {
	for _, d := range libDirs(arch) {
		if r, ok := resolveIn(root, d+"/"+soname); ok {
			return d + "/" + soname, r
		}
	}
	return "", ""
}

// resolveIn follows symlinks of the root-relative path rel inside root
// (absolute targets are relative to root, never the host) and returns the
// regular file it names.
func resolveIn(root, rel string) (string, bool) {
	for range 40 {
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "", false
		}
		if fi.Mode().IsRegular() {
			return rel, true
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return "", false
		}
		t, err := os.Readlink(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "", false
		}
		if path.IsAbs(t) {
			rel = strings.TrimPrefix(path.Clean(t), "/")
		} else {
			rel = path.Join(path.Dir(rel), t)
		}
		// Directory symlinks on the way (lib -> usr/lib) are resolved by
		// the host's open; the root only has relative ones there.
		if strings.HasPrefix(rel, "..") {
			return "", false
		}
	}
	return "", false
}

// glibc reports whether a library is glibc's (by package, or by soname
// when the owner is unknown): bundle = true never copies those, they
// belong to the host's loader.
func glibc(l Library) bool {
	if l.Package == "libc6" || l.Package == "libc6-arm64-cross" || strings.HasPrefix(l.Soname, "ld-linux") {
		return true
	}
	switch l.Soname {
	case "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2", "libutil.so.1", "libanl.so.1", "libmvec.so.1":
		return true
	}
	return false
}

// bundle copies the libraries of closure that are not glibc's and not in
// skip (the sonames the parent package needs or has: a copy would
// replace the parent's file where both are installed) into tree/lib, named
// by soname, and marks them Bundled.
func bundle(tree, root string, closure []Library, skip map[string]bool) error {
	for i, l := range closure {
		if l.Path == "" || l.Bundled || skip[l.Soname] || glibc(l) {
			continue
		}
		real, ok := resolveIn(root, strings.TrimPrefix(l.Path, "/"))
		if !ok {
			return fmt.Errorf("bundling %s: %s does not resolve in the root", l.Soname, l.Path)
		}
		dst := filepath.Join(tree, "lib", l.Soname)
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("bundling %s: the package already has lib/%s", l.Soname, l.Soname)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(root, filepath.FromSlash(real)), dst); err != nil {
			return fmt.Errorf("bundling %s: %w", l.Soname, err)
		}
		closure[i].Bundled = true
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// RuntimePackages are the distinct Debian packages of a closure's
// libraries that are not bundled: what a host needs installed.
func RuntimePackages(closure []Library) []string {
	var out []string
	for _, l := range closure {
		if l.Package != "" && !l.Bundled {
			out = appendNew(out, l.Package+"="+l.Version)
		}
	}
	slices.Sort(out)
	return out
}

// smokeTools are the programs of the root the smoke test and the
// regression suite run besides the package's own.
var smokeTools = []string{"dash", "bash", "cat", "grep", "head", "make", "diff", "rm", "mkdir", "sed", "ls", "cp", "mv", "chmod", "sort", "tr", "mawk", "find", "env", "expr", "basename", "dirname", "touch", "test"}

// visibleLibs builds, below dir, the library directories of the root as
// the smoke test sees them: only the libraries of allowed (sonames
// resolved in the root), the smoke tools' closure and the program
// interpreters. It returns the bind mounts that replace the root's
// directories.
func visibleLibs(dir, root string, arches []string, allowed []Library, owners map[string]toolchains.Package) (map[string]string, error) {
	needs := map[string][]string{}
	for _, t := range smokeTools {
		if libs, ok := needed(filepath.Join(root, "usr/bin", t)); ok {
			needs["usr/bin/"+t] = libs
		}
	}
	all := slices.Clone(allowed)
	all = append(all, closureOf(needs, func(string) bool { return false }, root, nativeArch, owners)...)
	interp := map[string]string{"amd64": "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "arm64": "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"}
	for _, a := range arches {
		all = append(all, Library{Soname: path.Base(interp[a]), Path: "/" + interp[a]})
	}
	mounts := map[string]string{}
	for _, a := range arches {
		d := libDirs(a)[0]
		host := filepath.Join(dir, filepath.FromSlash(d))
		if err := os.MkdirAll(host, 0o755); err != nil {
			return nil, err
		}
		mounts[d] = host
	}
	for _, l := range all {
		if l.Path == "" {
			continue
		}
		rel := strings.TrimPrefix(l.Path, "/")
		host, ok := mounts[path.Dir(rel)]
		if !ok {
			continue // a directory the smoke test sees unchanged
		}
		real, ok := resolveIn(root, rel)
		if !ok {
			continue
		}
		for _, name := range []string{path.Base(rel), path.Base(real)} {
			dst := filepath.Join(host, name)
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			src := filepath.Join(root, filepath.FromSlash(real))
			if err := os.Link(src, dst); err != nil {
				if err := copyFile(src, dst); err != nil {
					return nil, err
				}
			}
		}
	}
	return mounts, nil
}
