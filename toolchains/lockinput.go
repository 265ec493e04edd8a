package toolchains

import (
	"fmt"
	"maps"
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
	files := []IndexFile{idx.Release}
	if idx.Signature != nil {
		files = append(files, *idx.Signature)
	}
	files = append(files, idx.Packages...)
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

// LockEntries are r as lock entries: every .deb once, with the sorted
// names of the layers it belongs to, the index files of idx (nil: none),
// and one root entry per layer of s with its request digest (and the
// reason, for a dropped layer).
func (r *Resolved) LockEntries(s Spec, idx *Index) ([]lock.Input, []lock.Root, error) {
	byName := map[string]*lock.Input{}
	var inputs []lock.Input
	if idx != nil {
		inputs = idx.Inputs()
	}
	digests := s.Digests()
	var roots []lock.Root
	for _, l := range s.Layers {
		roots = append(roots, lock.Root{Name: l.Name, Request: digests[l.Name], Dropped: r.Dropped[l.Name]})
		for _, p := range r.Layers[l.Name] {
			in := p.Input()
			if have, ok := byName[in.Name]; ok {
				if have.SHA256 != in.SHA256 {
					return nil, nil, fmt.Errorf("toolchains: %s resolved to two versions (%s, %s)", in.Name, have.Version, in.Version)
				}
				if !slices.Contains(have.Roots, l.Name) {
					have.Roots = append(have.Roots, l.Name)
				}
				continue
			}
			in.Roots = []string{l.Name}
			byName[in.Name] = &in
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		in := byName[name]
		slices.Sort(in.Roots)
		inputs = append(inputs, *in)
	}
	slices.SortFunc(roots, func(a, b lock.Root) int { return strings.Compare(a.Name, b.Name) })
	return inputs, roots, nil
}

// FromLock returns the layers l pins: the deb inputs by the layers their
// Roots name, and the dropped layers of l's root entries.
func FromLock(l *lock.Lock) *Resolved {
	r := &Resolved{Layers: map[string][]Package{}, Dropped: map[string]string{}}
	if l == nil {
		return r
	}
	for _, in := range l.Inputs {
		if in.Kind != lock.KindDeb {
			continue
		}
		name := in.Name[strings.LastIndexByte(in.Name, '/')+1:]
		var url string
		if len(in.URLs) > 0 {
			url = in.URLs[0]
		}
		p := Package{Name: name, Version: in.Version, Arch: in.Arch, URL: url, SHA256: in.SHA256, Size: in.Size}
		for _, root := range in.Roots {
			r.Layers[root] = append(r.Layers[root], p)
		}
	}
	for _, root := range l.Roots {
		if root.Dropped != "" {
			r.Dropped[root.Name] = root.Dropped
		} else if _, ok := r.Layers[root.Name]; !ok {
			r.Layers[root.Name] = nil // a layer that adds nothing to its base
		}
	}
	return r
}

// KeepFrom keeps the layers of old whose request digest is unchanged (and
// which were not dropped).
func KeepFrom(old *lock.Lock) Keep {
	if old == nil {
		return nil
	}
	pinned := FromLock(old)
	return func(layer, digest string) ([]Package, bool) {
		for _, r := range old.Roots {
			if r.Name == layer && r.Request == digest && r.Dropped == "" {
				pkgs, ok := pinned.Layers[layer]
				return pkgs, ok
			}
		}
		return nil, false
	}
}
