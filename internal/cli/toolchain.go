package cli

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// aptLists is where apt keeps its downloaded indexes: the fallback index
// source for machines that cannot reach the manifest's archive.
const aptLists = "/var/lib/apt/lists"

// toolchainRoots returns the package request of each toolchain root, by the
// target arch it serves: the amd64 root, and the amd64-hosted arm64 cross root.
func toolchainRoots(m *manifest.Manifest) map[string]toolchains.Request {
	host := slices.Clone(m.Toolchain.Packages)
	for _, e := range m.Extensions {
		host = append(host, e.Packages...)
	}
	roots := map[string]toolchains.Request{}
	for _, t := range m.Postgres.Targets {
		pkgs := slices.Concat(host, m.Toolchain.Target[string(t)].Packages)
		roots[string(t)] = toolchains.Request{Arch: "amd64", Packages: pkgs}
	}
	return roots
}

// resolveToolchain resolves the manifest's toolchain roots against the
// pinned Debian archive (or, failing that, apt's local lists) into lock
// inputs: every .deb with the roots it belongs to, and the index files.
func (e *env) resolveToolchain(ctx context.Context, m *manifest.Manifest) ([]lock.Input, error) {
	arches := []string{"amd64"}
	for _, t := range m.Postgres.Targets {
		if string(t) != "amd64" && len(m.Toolchain.Target[string(t)].Packages) > 0 {
			arches = append(arches, string(t))
		}
	}
	src := toolchains.Source{BaseURL: m.Toolchain.Archive, Suite: m.Toolchain.Suite, Components: m.Toolchain.Components, Arches: arches}
	if src.BaseURL == "" {
		src.BaseURL = toolchains.DefaultBaseURL
	}
	if src.Suite == "" {
		src.Suite = toolchains.DefaultSuite
	}
	if len(src.Components) == 0 {
		src.Components = []string{"main"}
	}
	fmt.Fprintf(e.stderr, "resolving toolchain packages from %s %s\n", src.BaseURL, src.Suite)
	idx, err := toolchains.FetchIndex(ctx, http.DefaultClient, src)
	if err != nil {
		var err2 error
		idx, err2 = toolchains.LoadAptLists(aptLists, src)
		if err2 != nil {
			return nil, fmt.Errorf("%s: toolchain: %v; apt lists fallback: %v", m.File, err, err2)
		}
		fmt.Fprintf(e.stderr, "archive unreachable (%v); resolved from %s\n", err, aptLists)
	}
	byName := map[string]*lock.Input{}
	var order []string
	roots := toolchainRoots(m)
	targets := make([]string, 0, len(roots))
	for t := range roots {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for _, t := range targets {
		pkgs, err := toolchains.Resolve(idx, roots[t])
		if err != nil {
			return nil, fmt.Errorf("%s: toolchain for %s: %w", m.File, t, err)
		}
		for _, p := range pkgs {
			in := p.Input()
			if have, ok := byName[in.Name]; ok {
				if have.SHA256 != in.SHA256 {
					return nil, fmt.Errorf("%s: toolchain: %s resolved to two versions (%s, %s)", m.File, in.Name, have.Version, in.Version)
				}
				have.Roots = append(have.Roots, t)
				continue
			}
			in.Roots = []string{t}
			byName[in.Name] = &in
			order = append(order, in.Name)
		}
	}
	out := idx.Inputs()
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, nil
}
