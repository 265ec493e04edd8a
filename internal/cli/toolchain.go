package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// aptLists is where apt keeps its downloaded indexes: the fallback index
// source for machines that cannot reach the manifest's archive.
const aptLists = "/var/lib/apt/lists"

// toolchainSource is the Debian archive the manifest's toolchain resolves
// against (every target's arch), with the keys trusted to sign its Release.
func toolchainSource(m *manifest.Manifest) (toolchains.Spec, toolchains.Source, error) {
	spec := toolchains.ManifestSpec(m)
	src := spec.Source
	src.Arches = []string{toolchains.HostArch}
	for _, t := range m.Postgres.Targets {
		if !slices.Contains(src.Arches, string(t)) {
			src.Arches = append(src.Arches, string(t))
		}
	}
	kr, err := archiveKeyring(m)
	if err != nil {
		return spec, src, err
	}
	src.Keyring = kr
	return spec, src, nil
}

// archiveKeyring is the keyring the manifest trusts for its archive: the
// keys toolchain.keys names (Debian 12's by default), from Debian's
// embedded keyring or the manifest's toolchain.keyring file.
func archiveKeyring(m *manifest.Manifest) (*debarchive.Keyring, error) {
	kr := debarchive.DebianKeyring()
	if m.Toolchain.Keyring != "" {
		f, err := os.Open(manifestRel(m, m.Toolchain.Keyring))
		if err != nil {
			return nil, fmt.Errorf("%s: toolchain.keyring: %w", m.File, err)
		}
		defer f.Close()
		extra, err := debarchive.ReadKeyring(f)
		if err != nil {
			return nil, fmt.Errorf("%s: toolchain.keyring %s: %w", m.File, m.Toolchain.Keyring, err)
		}
		kr = kr.Add(extra)
	}
	keys := m.Toolchain.Keys
	if len(keys) == 0 {
		keys = debarchive.Debian12Keys
	}
	sel, err := kr.Select(keys)
	if err != nil {
		return nil, fmt.Errorf("%s: toolchain.keys: %w", m.File, err)
	}
	return sel, nil
}

// manifestRel resolves a path the manifest names relative to its directory.
func manifestRel(m *manifest.Manifest, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(m.File), p)
}

// resolveToolchain resolves the manifest's toolchain layers against the
// pinned Debian archive (or, failing that, apt's local lists), after
// verifying its signed Release file, into lock entries: every .deb with the
// layers it belongs to, the index files (kept in the store, so `lock
// --check` can verify the pins offline), and one root entry per layer.
// Layers of old whose request is unchanged are kept as they are.
func (e *env) resolveToolchain(ctx context.Context, m *manifest.Manifest, old *lock.Lock) ([]lock.Input, []lock.Root, error) {
	spec, src, err := toolchainSource(m)
	if err != nil {
		return nil, nil, err
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
	fmt.Fprintf(e.stderr, "verified %s/dists/%s/%s: signed by %s\n", src.BaseURL, src.Suite, idx.Release.Path, idx.Verified.SignedBy())
	if err := e.keepIndex(ctx, idx); err != nil {
		return nil, nil, err
	}
	return toolchainEntries(m, spec, idx, toolchains.KeepFrom(old), e.stderr)
}

// toolchainEntries resolves spec's layers in idx (keeping what keep
// returns) into lock entries. `lock` and `lock --check` (with no keep) both
// call it, so a pin is exactly what the signed index yields.
func toolchainEntries(m *manifest.Manifest, spec toolchains.Spec, idx *toolchains.Index, keep toolchains.Keep, log io.Writer) ([]lock.Input, []lock.Root, error) {
	res, err := toolchains.ResolveSpec(idx, spec, keep)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: toolchain: %w", m.File, err)
	}
	for _, name := range slices.Sorted(maps.Keys(res.Dropped)) {
		fmt.Fprintf(log, "toolchain layer %s dropped: %s\n", name, res.Dropped[name])
	}
	inputs, roots, err := res.LockEntries(spec, idx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: toolchain: %w", m.File, err)
	}
	return inputs, roots, nil
}

// keepIndex puts the index files read in full into the store.
func (e *env) keepIndex(ctx context.Context, idx *toolchains.Index) error {
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	files := append([]toolchains.IndexFile{idx.Release}, idx.Packages...)
	if idx.Signature != nil {
		files = append(files, *idx.Signature)
	}
	for _, f := range files {
		if f.Data == nil {
			continue
		}
		if err := st.Put(ctx, bytes.NewReader(f.Data), f.SHA256, f.Size); err != nil {
			return fmt.Errorf("keeping index file %s: %w", f.URL, err)
		}
	}
	return nil
}
