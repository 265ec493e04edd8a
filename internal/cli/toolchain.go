package cli

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// aptLists is where apt keeps its downloaded indexes: the fallback index
// source for machines that cannot reach the manifest's archive.
const aptLists = "/var/lib/apt/lists"

// resolveToolchain resolves the manifest's toolchain layers against the
// pinned Debian archive (or, failing that, apt's local lists) into lock
// entries: every .deb with the layers it belongs to, the index files, and
// one root entry per layer. Layers of old whose request is unchanged are
// kept as they are.
func (e *env) resolveToolchain(ctx context.Context, m *manifest.Manifest, old *lock.Lock) ([]lock.Input, []lock.Root, error) {
	spec := toolchains.ManifestSpec(m)
	src := spec.Source
	src.Arches = []string{toolchains.HostArch}
	for _, t := range m.Postgres.Targets {
		if !slices.Contains(src.Arches, string(t)) {
			src.Arches = append(src.Arches, string(t))
		}
	}
	fmt.Fprintf(e.stderr, "resolving toolchain packages from %s %s\n", src.BaseURL, src.Suite)
	idx, err := toolchains.FetchIndex(ctx, http.DefaultClient, src)
	if err != nil {
		var err2 error
		idx, err2 = toolchains.LoadAptLists(aptLists, src)
		if err2 != nil {
			return nil, nil, fmt.Errorf("%s: toolchain: %v; apt lists fallback: %v", m.File, err, err2)
		}
		fmt.Fprintf(e.stderr, "archive unreachable (%v); resolved from %s\n", err, aptLists)
	}
	res, err := toolchains.ResolveSpec(idx, spec, toolchains.KeepFrom(old))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: toolchain: %w", m.File, err)
	}
	for _, name := range slices.Sorted(maps.Keys(res.Dropped)) {
		fmt.Fprintf(e.stderr, "toolchain layer %s dropped: %s\n", name, res.Dropped[name])
	}
	inputs, roots, err := res.LockEntries(spec, idx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: toolchain: %w", m.File, err)
	}
	return inputs, roots, nil
}
