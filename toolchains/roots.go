package toolchains

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/monogres/monogres/internal/manifest"
)

// Cell is what one build action's root serves. Its root holds exactly the
// closure of its layers: the target's base, the -dev packages of each of
// its options, the packages of the extensions an extension cell requires
// (their libraries load when its smoke test creates them) and its own.
type Cell struct {
	Target    string   // target arch: "amd64" or "arm64"
	Options   []string // the cell's options
	Extension string   // the extension of an extension cell; "" for Postgres
	Requires  []string // the extensions it requires (an [[extension]]'s requires)
}

// Layer names, as the lock's roots lists spell them.
func BaseLayer(target string) string           { return target }
func OptionLayer(target, option string) string { return target + "~opt:" + option }
func ExtensionLayer(target, ext string) string { return target + "~ext:" + ext }

// Layers are the names of c's layers, base first.
func (c Cell) Layers() []string {
	out := []string{BaseLayer(c.Target)}
	for _, o := range c.Options {
		out = append(out, OptionLayer(c.Target, o))
	}
	for _, r := range c.Requires {
		out = append(out, ExtensionLayer(c.Target, r))
	}
	if c.Extension != "" {
		out = append(out, ExtensionLayer(c.Target, c.Extension))
	}
	return out
}

// Layer is one package set the lock pins.
type Layer struct {
	Name   string
	Target string
	// Packages is the request: dependency expressions as in Request.
	Packages []string
	// Base names the layer this one is resolved over ("" for a base): a
	// layer pins only what its request adds to its base's closure.
	Base string
	// Optional layers (extensions) that cannot be resolved drop their
	// cells for the target instead of failing the lock.
	Optional bool
}

// Spec is everything that decides the layers: the archive, the native
// arch of every root, and the package requests.
type Spec struct {
	Source Source
	Layers []Layer // bases first, then options, then extensions, per target
}

// HostArch is the native arch of every root (arm64 cells cross-compile).
const HostArch = "amd64"

// ManifestSpec is the layers m asks for: per target, the base
// ([toolchain] packages plus [toolchain.target.T] packages), one layer per
// option the target supports (OptionPackages), and one per extension with
// packages ([[extension]] packages plus [extension.target.T] packages).
func ManifestSpec(m *manifest.Manifest) Spec {
	s := Spec{Source: Source{BaseURL: m.Toolchain.Archive, Suite: m.Toolchain.Suite, Components: m.Toolchain.Components}}
	if s.Source.BaseURL == "" {
		s.Source.BaseURL = DefaultBaseURL
	}
	if s.Source.Suite == "" {
		s.Source.Suite = DefaultSuite
	}
	if len(s.Source.Components) == 0 {
		s.Source.Components = []string{"main"}
	}
	targets := make([]string, 0, len(m.Postgres.Targets))
	for _, t := range m.Postgres.Targets {
		targets = append(targets, string(t))
	}
	slices.Sort(targets)
	for _, t := range slices.Compact(targets) {
		base := slices.Concat(m.Toolchain.Packages, m.Toolchain.Target[t].Packages)
		s.Layers = append(s.Layers, Layer{Name: BaseLayer(t), Target: t, Packages: base})
		for _, o := range manifest.Options {
			if slices.Contains(m.Targets[t].Unsupported, o) {
				continue
			}
			if pkgs := OptionPackages(string(o), t); len(pkgs) > 0 {
				s.Layers = append(s.Layers, Layer{Name: OptionLayer(t, string(o)), Target: t, Packages: pkgs, Base: BaseLayer(t)})
			}
		}
		exts := slices.Clone(m.Extensions)
		slices.SortFunc(exts, func(a, b manifest.Extension) int { return cmp.Compare(a.Name, b.Name) })
		for _, e := range exts {
			if pkgs := targetPackages(e.Packages, e.Target[t].Packages); len(pkgs) > 0 {
				s.Layers = append(s.Layers, Layer{Name: ExtensionLayer(t, e.Name), Target: t, Packages: pkgs, Base: BaseLayer(t), Optional: true})
			}
		}
	}
	return s
}

// targetPackages is an extension's packages for one target: the
// all-targets list with the target's own list added, where a target entry
// "NAME:ARCH" replaces "NAME" (libmemcached-dev:arm64 takes the place of
// libmemcached-dev in the arm64 root: the two are not co-installable, and a
// cross build links against the target's library).
func targetPackages(all, target []string) []string {
	replaced := map[string]bool{}
	for _, p := range target {
		if name, _, ok := strings.Cut(p, ":"); ok {
			replaced[name] = true
		}
	}
	out := slices.DeleteFunc(slices.Clone(all), func(p string) bool { return replaced[p] })
	return append(out, target...)
}

// DefaultSpec is ManifestSpec of a manifest with the default package
// lists (defaults.go), the given targets and no extensions.
func DefaultSpec(targets ...string) Spec {
	m := &manifest.Manifest{Toolchain: manifest.Toolchain{Packages: slices.Concat(BasePackages, BuildTools), Target: map[string]manifest.ToolchainTarget{"arm64": {Packages: CrossArm64Packages}}}}
	for _, t := range targets {
		m.Postgres.Targets = append(m.Postgres.Targets, manifest.Arch(t))
	}
	m.Targets = map[string]manifest.Target{"arm64": {Unsupported: []manifest.Option{"llvm", "plpython", "plperl", "pltcl"}}}
	return ManifestSpec(m)
}

// Digests are the request digests of s's layers, by name: "sha256:<hex>"
// of the archive, the layer's request and its base's digest, so a layer
// is stale exactly when something its closure depends on changed.
func (s Spec) Digests() map[string]string {
	out := map[string]string{}
	for _, l := range s.Layers {
		b, _ := json.Marshal(struct {
			Archive, Suite string
			Components     []string
			Name, Host     string
			Packages       []string
			Base           string
		}{s.Source.BaseURL, s.Source.Suite, s.Source.Components, l.Name, HostArch, l.Packages, out[l.Base]})
		sum := sha256.Sum256(b)
		out[l.Name] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}

// Resolved is the closure of every layer of a Spec.
type Resolved struct {
	// Layers are the packages each layer adds to its base (a base: its
	// whole closure), sorted by name and arch.
	Layers map[string][]Package
	// Dropped are the optional layers that could not be resolved, with
	// the resolver's reason.
	Dropped map[string]string

	// requests memoizes Request by layer list: a run asks for the same
	// root once per cell, and cells of many versions share it. Layers and
	// Dropped do not change once a Resolved is returned.
	requests sync.Map // string → RootRequest
}

// DroppedError says a cell's root cannot be made: one of its layers could
// not be resolved.
type DroppedError struct {
	Layer, Reason string
}

func (e *DroppedError) Error() string {
	return fmt.Sprintf("toolchain layer %s cannot be resolved: %s", e.Layer, e.Reason)
}

// Keep returns the packages an earlier resolution pinned for a layer
// whose request digest is unchanged (ok false: resolve it).
type Keep func(layer, digest string) ([]Package, bool)

// ResolveSpec resolves every layer of s against idx: a base on its own,
// every other layer over its base's closure. Layers keep returns are not
// resolved again, so adding or changing an extension never moves the
// packages of a base or option layer.
func ResolveSpec(idx *Index, s Spec, keep Keep) (*Resolved, error) {
	r := &Resolved{Layers: map[string][]Package{}, Dropped: map[string]string{}}
	digests := s.Digests()
	for _, l := range s.Layers {
		if keep != nil {
			if pkgs, ok := keep(l.Name, digests[l.Name]); ok {
				r.Layers[l.Name] = pkgs
				continue
			}
		}
		var base []Package
		if l.Base != "" {
			var ok bool
			if base, ok = r.Layers[l.Base]; !ok {
				return nil, fmt.Errorf("toolchains: layer %s: base layer %s is not resolved", l.Name, l.Base)
			}
		}
		pkgs, err := resolveOver(idx, Request{Arch: HostArch, Packages: l.Packages}, base)
		switch {
		case err != nil && l.Optional:
			r.Dropped[l.Name] = strings.TrimPrefix(err.Error(), "toolchains: ")
		case err != nil:
			return nil, fmt.Errorf("toolchains: layer %s: %w", l.Name, err)
		default:
			r.Layers[l.Name] = pkgs
		}
	}
	return r, nil
}

// Packages is the package set of c's root: the union of its layers. A
// layer that does not exist (an option without packages) adds nothing; a
// dropped one is a *DroppedError.
func (r *Resolved) Packages(c Cell) ([]Package, error) {
	seen := map[string]Package{}
	for _, name := range c.Layers() {
		if why, ok := r.Dropped[name]; ok {
			return nil, &DroppedError{Layer: name, Reason: why}
		}
		for _, p := range r.Layers[name] {
			id := p.Name + ":" + p.Arch
			if o, ok := seen[id]; ok && o.SHA256 != p.SHA256 {
				return nil, fmt.Errorf("toolchains: root of %v: layers pin two versions of %s (%s, %s)", c.Layers(), id, o.Version, p.Version)
			}
			seen[id] = p
		}
	}
	if _, ok := r.Layers[BaseLayer(c.Target)]; !ok {
		return nil, fmt.Errorf("toolchains: no toolchain root for target %s (locked layers: %s)", c.Target, strings.Join(slices.Sorted(maps.Keys(r.Layers)), ", "))
	}
	return sortPackages(slices.Collect(maps.Values(seen))), nil
}

// RootRequest is what a cell's root is made of: the package set and its
// cache key (Key with DefaultOptions).
type RootRequest struct {
	Cell     Cell
	Packages []Package
	Key      string
}

// Request returns the root request of c.
func (r *Resolved) Request(c Cell) (RootRequest, error) {
	layers := strings.Join(c.Layers(), "\n")
	if v, ok := r.requests.Load(layers); ok {
		req := v.(RootRequest)
		return RootRequest{Cell: c, Packages: slices.Clone(req.Packages), Key: req.Key}, nil
	}
	pkgs, err := r.Packages(c)
	if err != nil {
		return RootRequest{}, err
	}
	key := Key(pkgs, DefaultOptions)
	r.requests.Store(layers, RootRequest{Packages: slices.Clone(pkgs), Key: key})
	return RootRequest{Cell: c, Packages: pkgs, Key: key}, nil
}

// Names are the package names as build.Toolchain lists them: "name", or
// "name:arch" for a package of another arch than HostArch (and not "all").
func Names(pkgs []Package) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = p.Name
		if p.Arch != HostArch && p.Arch != "all" {
			out[i] += ":" + p.Arch
		}
	}
	return out
}
