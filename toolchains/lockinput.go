package toolchains

import "github.com/monogres/monogres/lock"

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
