package build

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/toolchains"
)

// runtimeInfo is what a build found out about the libraries its package
// needs at run time.
type runtimeInfo struct {
	closure []Library // the package's (Manifest.Runtime)
	parent  []Library // an extension's parent package's
	// owners of the root's files; nil when unknown (a root not composed
	// by toolchains.ComposeCached): the closure then names no packages and
	// the smoke test sees the whole root.
	owners map[string]toolchains.Package
}

// runtime computes the runtime closure of the install tree and, for an
// extension cell with bundle = true, copies its libraries into the
// install's lib/; it logs what the package needs.
func (e *engine) runtime(p prepared, install string, out io.Writer) (runtimeInfo, error) {
	var rt runtimeInfo
	owners, err := toolchains.Owners(p.tc.Dir)
	if err != nil {
		fmt.Fprintf(out, "monogres: runtime closure without Debian packages: %v\n", err)
	} else {
		rt.owners = owners
	}
	var provided map[string]bool
	parentNeeds := map[string]bool{}
	x := p.cell.Extension
	if x != nil {
		pg := filepath.Join(p.dir, "pg")
		if rt.parent, err = Closure(pg, nil, p.tc.Dir, p.cell.Arch, rt.owners); err != nil {
			return rt, err
		}
		if _, provided, err = elfNeeds(pg); err != nil {
			return rt, err
		}
		for _, l := range rt.parent {
			parentNeeds[l.Soname] = true
		}
	}
	if rt.closure, err = Closure(install, provided, p.tc.Dir, p.cell.Arch, rt.owners); err != nil {
		return rt, err
	}
	if x != nil && x.Bundle {
		skip := maps.Clone(parentNeeds)
		maps.Copy(skip, provided)
		if err := bundle(install, p.tc.Dir, rt.closure, skip); err != nil {
			return rt, err
		}
	}
	var missing []string
	for _, l := range rt.closure {
		switch {
		case l.Path == "":
			missing = append(missing, l.Soname)
		case x != nil && !parentNeeds[l.Soname]:
			how := "recorded"
			if l.Bundled {
				how = "bundled in lib/"
			}
			fmt.Fprintf(out, "monogres: runtime: %s (%s) from %s %s, %s\n", l.Soname, strings.Join(l.NeededBy, ", "), l.Package, l.Version, how)
		}
	}
	fmt.Fprintf(out, "monogres: runtime closure: %d libraries from %d Debian packages\n", len(rt.closure), len(RuntimePackages(rt.closure)))
	if len(missing) > 0 && x == nil {
		fmt.Fprintf(out, "monogres: runtime: not found in the root: %s\n", strings.Join(missing, ", "))
	} else if len(missing) > 0 {
		return rt, fmt.Errorf("the package needs %s, which neither it, its Postgres package nor the toolchain root has (add the library's package to the extension's packages)", strings.Join(missing, ", "))
	}
	return rt, nil
}

// unbundledLibs are the libraries of a closure the package does not carry.
func unbundledLibs(closure []Library) []Library {
	var out []Library
	for _, l := range closure {
		if !l.Bundled {
			out = append(out, l)
		}
	}
	return out
}
