package toolchains

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Package is one resolved binary package, ready to become a lock entry.
type Package struct {
	Name      string
	Version   string
	Arch      string // "amd64", "arm64" or "all"
	MultiArch string // "", "same", "foreign" or "allowed"
	Filename  string // pool path, relative to the archive base URL
	URL       string // archive base URL + Filename
	SHA256    string // hex sha256 of the .deb
	Size      int64
	Source    string // source package name
}

// String is "name:arch=version", the form apt-get download accepts.
func (p Package) String() string { return p.Name + ":" + p.Arch + "=" + p.Version }

// Request is what a toolchain root must contain.
type Request struct {
	// Arch is the native architecture of the root (the build host), e.g.
	// "amd64". Unqualified names and arch "all" packages resolve for it.
	Arch string
	// Packages are dependency expressions, one relation each:
	// "gcc", "make (>= 4.3)", "libreadline-dev:arm64", "mawk | gawk".
	// The base set a working root needs (dash, coreutils, ...) belongs here
	// too: nothing is added implicitly, Essential packages included.
	Packages []string
}

// Resolve computes the dependency closure of req in idx: Pre-Depends and
// Depends, versioned relations, alternatives (a relation already satisfied
// by the selection wins, else the first satisfiable alternative), virtual
// packages via Provides (versioned Provides satisfy versioned relations),
// arch qualifiers (:any, :native, :<arch>) and Multi-Arch foreign, same and
// allowed. Conflicts, Breaks and Recommends are not considered.
//
// The result is sorted by name, then arch. An unsatisfiable relation is an
// error naming the chain that needed it, e.g.
// "gcc-12 -> cpp-12 -> libmpc3 (>= 1.1): no candidate".
func Resolve(idx *Index, req Request) ([]Package, error) { return resolveOver(idx, req, nil) }

// resolveOver resolves req with the closed package set base already
// installed, and returns only the packages req adds: a relation base
// satisfies needs nothing more. A base package the index no longer lists
// still satisfies relations on its own name and version.
func resolveOver(idx *Index, req Request, base []Package) ([]Package, error) {
	if req.Arch == "" {
		return nil, fmt.Errorf("toolchains: resolve: request has no native arch")
	}
	r := &resolver{idx: idx, native: req.Arch, selected: map[string]*entry{}, deps: map[*entry][]dependency.Relation{}}
	inBase := map[string]bool{}
	for _, p := range base {
		id := p.Name + ":" + p.Arch
		inBase[id] = true
		r.selected[id] = idx.entryOf(p)
	}
	for _, s := range req.Packages {
		d, err := dependency.Parse(s)
		if err != nil || len(d.Relations) != 1 {
			return nil, fmt.Errorf("toolchains: request %q: want one dependency relation like \"name\", \"name:arm64\" or \"name (>= 1.0)\"", s)
		}
		if err := r.relation(d.Relations[0], req.Arch, []string{"request"}); err != nil {
			return nil, err
		}
	}
	for len(r.queue) > 0 {
		it := r.queue[0]
		r.queue = r.queue[1:]
		rels, err := r.relations(it.e)
		if err != nil {
			return nil, fmt.Errorf("toolchains: %s: %w", strings.Join(it.chain, " -> "), err)
		}
		ctxArch := it.e.Arch
		if ctxArch == "all" {
			ctxArch = r.native
		}
		for _, rel := range rels {
			if err := r.relation(rel, ctxArch, it.chain); err != nil {
				return nil, err
			}
		}
	}
	out := make([]Package, 0, len(r.selected)-len(inBase))
	for id, e := range r.selected {
		if !inBase[id] {
			out = append(out, e.Package)
		}
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Arch, b.Arch))
	})
	return out, nil
}

type resolver struct {
	idx      *Index
	native   string
	selected map[string]*entry // by name:arch
	deps     map[*entry][]dependency.Relation
	queue    []item
}

type item struct {
	e     *entry
	chain []string // package names from the request to e, e included
}

func (r *resolver) relations(e *entry) ([]dependency.Relation, error) {
	if rels, ok := r.deps[e]; ok {
		return rels, nil
	}
	var rels []dependency.Relation
	for _, f := range []struct{ name, val string }{{"Pre-Depends", e.preDepends}, {"Depends", e.depends}} {
		if strings.TrimSpace(f.val) == "" {
			continue
		}
		d, err := dependency.Parse(f.val)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %s %q: %w", e.Name, e.Version, f.name, f.val, err)
		}
		rels = append(rels, d.Relations...)
	}
	r.deps[e] = rels
	return rels, nil
}

// relation satisfies one relation for a package of arch ctxArch.
func (r *resolver) relation(rel dependency.Relation, ctxArch string, chain []string) error {
	var poss []dependency.Possibility
	for _, p := range rel.Possibilities {
		if p.Substvar {
			continue
		}
		if p.Architectures != nil {
			a, err := dependency.ParseArch(ctxArch)
			if err == nil && !p.Architectures.Matches(a) {
				continue
			}
		}
		poss = append(poss, p)
	}
	if len(poss) == 0 {
		return nil // every alternative is for another architecture
	}
	for _, p := range poss {
		for _, c := range r.candidates(p, ctxArch) {
			if r.selected[c.Name+":"+c.Arch] == c {
				return nil
			}
		}
	}
	var why []string
	for _, p := range poss {
		cands := r.candidates(p, ctxArch)
		if len(cands) == 0 {
			why = append(why, r.noCandidate(p, ctxArch))
			continue
		}
		return r.choose(cands, p, chain)
	}
	return fmt.Errorf("toolchains: %s -> %s: %s", strings.Join(chain, " -> "), relString(rel), strings.Join(why, "; "))
}

// choose selects the first candidate that can join the selection.
func (r *resolver) choose(cands []*entry, p dependency.Possibility, chain []string) error {
	var clash []string
	for _, c := range cands {
		if msg := r.clash(c); msg != "" {
			clash = append(clash, msg)
			continue
		}
		r.selected[c.Name+":"+c.Arch] = c
		name := c.Name
		if c.Arch != "all" && c.Arch != r.native {
			name += ":" + c.Arch
		}
		r.queue = append(r.queue, item{e: c, chain: append(slices.Clip(chain), name)})
		return nil
	}
	return fmt.Errorf("toolchains: %s -> %s: %s", strings.Join(chain, " -> "), p.String(), strings.Join(clash, "; "))
}

// clash says why c cannot join the selection, or "".
func (r *resolver) clash(c *entry) string {
	for _, s := range r.selected {
		if s.Name != c.Name {
			continue
		}
		switch {
		case s.Arch == c.Arch:
			return fmt.Sprintf("%s %s already selected, %s needed", s.Name+":"+s.Arch, s.Version, c.Version)
		case s.Arch == "all" || c.Arch == "all":
			return fmt.Sprintf("%s:%s and %s:%s cannot both be installed", s.Name, s.Arch, c.Name, c.Arch)
		case s.MultiArch != "same" || c.MultiArch != "same":
			return fmt.Sprintf("%s:%s and %s:%s cannot both be installed (not Multi-Arch: same)", s.Name, s.Arch, c.Name, c.Arch)
		case s.Version != c.Version:
			return fmt.Sprintf("Multi-Arch: same %s needs one version for all arches, have %s:%s %s and %s:%s %s", s.Name, s.Name, s.Arch, s.Version, c.Name, c.Arch, c.Version)
		}
	}
	return ""
}

// candidates lists the packages that satisfy p for a package of ctxArch,
// best first: real packages (highest version, wanted arch first), then
// providers (by priority, then name).
func (r *resolver) candidates(p dependency.Possibility, ctxArch string) []*entry {
	qual := archQualifier(p.Arch)
	var want func(e *entry) bool
	prefer := ctxArch
	switch qual {
	case "":
		want = func(e *entry) bool { return e.Arch == ctxArch || e.Arch == "all" || e.MultiArch == "foreign" }
	case "any":
		want = func(e *entry) bool {
			return e.Arch == ctxArch || e.Arch == "all" || e.MultiArch == "foreign" || e.MultiArch == "allowed"
		}
	case "native":
		prefer = r.native
		want = func(e *entry) bool { return e.Arch == r.native || e.Arch == "all" }
	default:
		prefer = qual
		want = func(e *entry) bool { return e.Arch == qual || e.Arch == "all" }
	}
	rank := func(e *entry) int {
		switch {
		case r.selected[e.Name+":"+e.Arch] == e:
			return 0
		case e.MultiArch == "foreign" && e.Arch == r.native: // tools run on the host
			return 1
		case e.Arch == prefer || e.Arch == "all":
			return 1
		}
		return 2
	}
	var real []*entry
	for _, e := range r.idx.byName[p.Name] {
		if want(e) && (p.Version == nil || p.Version.SatisfiedBy(e.ver)) {
			real = append(real, e)
		}
	}
	slices.SortStableFunc(real, func(a, b *entry) int { return cmp.Compare(rank(a), rank(b)) })
	var prov []*entry
	for _, pr := range r.idx.provides[p.Name] {
		if !want(pr.e) {
			continue
		}
		if p.Version != nil {
			if pr.version == "" {
				continue
			}
			v, err := version.Parse(pr.version)
			if err != nil || !p.Version.SatisfiedBy(v) {
				continue
			}
		}
		if !slices.Contains(prov, pr.e) {
			prov = append(prov, pr.e)
		}
	}
	slices.SortStableFunc(prov, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(priorityRank(a.priority), priorityRank(b.priority)))
	})
	return append(real, prov...)
}

// noCandidate explains why p has no candidate.
func (r *resolver) noCandidate(p dependency.Possibility, ctxArch string) string {
	var have []string
	for _, e := range r.idx.byName[p.Name] {
		have = append(have, e.Arch+" "+e.Version)
	}
	for _, pr := range r.idx.provides[p.Name] {
		s := "provided by " + pr.e.Name + ":" + pr.e.Arch
		if pr.version != "" {
			s += " (= " + pr.version + ")"
		}
		have = append(have, s)
	}
	if len(have) == 0 {
		return "no candidate (not in the index)"
	}
	return fmt.Sprintf("no candidate for %s (index has %s)", ctxArch, strings.Join(have, ", "))
}

func archQualifier(a *dependency.Arch) string {
	if a == nil {
		return ""
	}
	switch {
	case a.CPU == "any":
		return "any"
	case a.CPU == "native":
		return "native"
	}
	return a.String()
}

func priorityRank(p string) int {
	switch p {
	case "required":
		return 0
	case "important":
		return 1
	case "standard":
		return 2
	case "optional":
		return 3
	}
	return 4
}

func relString(rel dependency.Relation) string {
	var s []string
	for _, p := range rel.Possibilities {
		s = append(s, p.String())
	}
	return strings.Join(s, " | ")
}

// entryOf returns the index entry of p, or an entry made from p alone
// when the index does not list that version.
func (idx *Index) entryOf(p Package) *entry {
	for _, e := range idx.byName[p.Name] {
		if e.Arch == p.Arch && e.Version == p.Version {
			return e
		}
	}
	v, _ := version.Parse(p.Version)
	return &entry{Package: p, ver: v}
}
