package cli

import (
	"encoding/json"
	"fmt"

	"github.com/monogres/monogres/index"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/toolchains"
)

// runCatalog is the extension half of `monogres index update|check`: the
// extension source packages collected while the Debian suites were
// crawled become monogres.catalog.json entries. update downloads every
// version's tarball into the store (once) to read its strip_prefix and
// build kind and writes the file; check only compares Debian's digests
// with the pinned ones. It returns the conflicts, as lines.
func runCatalog(e *env, m *manifest.Manifest, sub string, crawl *index.CatalogCrawl, kr *debarchive.Keyring) ([]string, error) {
	path := manifest.CatalogFilePath(e.manifestPath)
	old, err := manifest.ReadCatalog(path)
	if err != nil {
		return nil, err
	}
	opts := index.CatalogOptions{Old: old, Base: m.Toolchain.Packages}
	if m.Toolchain.Archive != "" && m.Toolchain.Suite != "" {
		idx, err := toolchains.FetchIndex(e.ctx, nil, toolchains.Source{BaseURL: m.Toolchain.Archive, Suite: m.Toolchain.Suite, Components: m.Toolchain.Components, Arches: []string{"amd64"}, Keyring: kr})
		if err != nil {
			fmt.Fprintf(e.stderr, "monogres index %s: Build-Depends are not mapped to %s's packages (%v)\n", sub, m.Toolchain.Suite, err)
		} else {
			opts.Known = func(name string) bool { return len(idx.Lookup(name)) > 0 }
		}
	}
	if sub == "update" {
		st, err := app.OpenStore()
		if err != nil {
			return nil, err
		}
		if opts.Fetcher, err = app.Fetcher(m, st, 4, false, nil); err != nil {
			return nil, err
		}
		opts.Fetcher.Apt = false // the pool URL is what apt would fetch; a 404 is the answer
	}
	res, err := crawl.Build(e.ctx, opts)
	if err != nil {
		return nil, err
	}
	var versions, fetchable, entries, fetchableEntries int
	for _, x := range res.Catalog.Extensions {
		entries++
		any := false
		for _, v := range x.Versions {
			versions++
			if v.Fetchable {
				fetchable++
				any = true
			}
		}
		if any {
			fetchableEntries++
		}
	}
	fmt.Fprintf(e.stdout, "extension catalog: %d source packages (%d with a tarball fetchable from here), %d versions (%d fetchable), %d new\n", entries, fetchableEntries, versions, fetchable, len(res.New))
	for _, n := range res.New {
		fmt.Fprintf(e.stdout, "new extension: %s\n", n)
	}
	if sub == "update" {
		b, _ := json.MarshalIndent(&res.Catalog, "", "  ")
		cur, _ := json.MarshalIndent(old, "", "  ")
		if string(b) != string(cur) {
			if err := store.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
				return nil, err
			}
			fmt.Fprintf(e.stdout, "wrote %s; select entries with extensions = [...] in %s\n", path, e.manifestPath)
		}
	}
	var lines []string
	for _, c := range res.Conflicts {
		lines = append(lines, c.String())
	}
	return lines, nil
}
