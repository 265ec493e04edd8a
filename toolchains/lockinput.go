package toolchains

import (
	"slices"
	"strings"

	"github.com/monogres/monogres/lock"
)

// Input is p as a lock entry: name "deb/<arch>/<name>", its pool URL, and
// the apt fallback spec "binary:<name>:<arch>=<version>".
func (p Package) Input() lock.Input {
	return lock.Input{
		Name:    "deb/" + p.Arch + "/" + p.Name,
		Kind:    lock.KindDeb,
		Version: p.Version,
		Arch:    p.Arch,
		URLs:    []string{p.URL},
		SHA256:  p.SHA256,
		Size:    p.Size,
		Apt:     "binary:" + p.Name + ":" + p.Arch + "=" + p.Version,
	}
}

// Inputs are the index files of idx as lock entries, named
// "index/<suite>/<path>" (e.g. "index/bookworm/InRelease",
// "index/bookworm/main/binary-amd64/Packages"). A Packages entry pins the
// uncompressed bytes.
func (idx *Index) Inputs() []lock.Input {
	files := append([]IndexFile{idx.Release}, idx.Packages...)
	out := make([]lock.Input, 0, len(files))
	for _, f := range files {
		out = append(out, lock.Input{
			Name:   "index/" + idx.Source.Suite + "/" + f.Path,
			Kind:   lock.KindIndex,
			Arch:   f.Arch,
			URLs:   []string{f.URL},
			SHA256: f.SHA256,
			Size:   f.Size,
		})
	}
	return out
}

// FromLock returns the Debian packages of the toolchain root serving target
// (the lock inputs of kind deb whose Roots name it), ready for Compose.
func FromLock(l *lock.Lock, target string) []Package {
	var out []Package
	for _, in := range l.Inputs {
		if in.Kind != lock.KindDeb || !slices.Contains(in.Roots, target) {
			continue
		}
		name := in.Name[strings.LastIndexByte(in.Name, '/')+1:]
		var url string
		if len(in.URLs) > 0 {
			url = in.URLs[0]
		}
		out = append(out, Package{Name: name, Version: in.Version, Arch: in.Arch, URL: url, SHA256: in.SHA256, Size: in.Size})
	}
	return out
}
