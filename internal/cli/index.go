package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/index"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
)

func init() { register(newIndexCmd) }

func newIndexCmd(e *env) *cobra.Command {
	var keyring string
	sub := func(name, short, example string) *cobra.Command {
		c := &cobra.Command{
			Use: name, Short: short, Example: example, Args: noArgs,
			RunE: func(*cobra.Command, []string) error { return runIndex(e, name, keyring) },
		}
		c.Flags().StringVar(&keyring, "keyring", "", "trust the OpenPGP keys in this file for Debian Release signatures instead of Debian 12's archive keys")
		return c
	}
	return group(&cobra.Command{
		Use:   "index",
		Short: "discover Postgres releases and pin their sha256 from Debian, upstream and git (index update), or fail on a changed digest (index check)",
		Long: `Crawl the sources the manifest's [index] table and toolchain name (Debian's
signed Sources, an upstream directory, git tags) for Postgres releases.
Both subcommands exit 1 when a crawler reports a digest other than the
pinned one (see docs/index.md).`,
		Example: "  monogres index update\n  monogres index check",
	},
		sub("update", "write new releases to "+manifest.IndexFileName, "  monogres index update"),
		sub("check", "CI gate: fail on a changed digest, list new releases", "  monogres index check"))
}

// runIndex is `monogres index update|check`: crawl the sources the
// manifest's [index] table and toolchain name, then write new releases to
// monogres.index.json beside the manifest (update) or only report (check).
// Both exit 1 when a crawler reports a digest other than the pinned one.
func runIndex(e *env, sub, keyring string) error {
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return err
	}
	kr, err := readKeyring(keyring)
	if err != nil {
		return err
	}
	var catalog *index.CatalogCrawl
	if m.Crawl.Extensions {
		catalog = &index.CatalogCrawl{}
	}
	crawlers, err := indexCrawlers(e, m, kr, catalog)
	if err != nil {
		return err
	}
	found, err := index.CrawlAll(e.ctx, crawlers)
	if err != nil {
		return err
	}
	builtin, err := manifest.Builtin()
	if err != nil {
		return err
	}
	path := manifest.IndexFilePath(e.manifestPath)
	cur, err := manifest.ReadIndexFile(path)
	if err != nil {
		return err
	}
	res := index.Merge(builtin, cur, found, m.Crawl.Versions())
	var names []string
	for _, c := range crawlers {
		names = append(names, c.Name())
	}
	fmt.Fprintf(e.stdout, "crawled %s: %d releases, %d match their pins, %d new\n", strings.Join(names, "; "), len(found), res.Confirmed, len(res.New))
	for _, r := range res.New {
		fmt.Fprintf(e.stdout, "new: %s %s sha256:%s (%s)\n", r.Version, r.Source, r.SHA256, strings.Join(r.Origins, ", "))
	}
	if sub == "update" && (len(res.New) > 0 || !sameFile(cur, &res.File)) {
		if err := writeIndexFile(path, &res.File); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s; run `monogres lock --update postgres/MAJOR` to move a locked major to a new release\n", path)
	}
	var conflicts []string
	for _, c := range res.Conflicts {
		conflicts = append(conflicts, c.String())
	}
	if catalog != nil {
		more, err := runCatalog(e, m, sub, catalog, kr)
		if err != nil {
			return err
		}
		conflicts = append(conflicts, more...)
	}
	if len(conflicts) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "monogres index %s: %d pinned release(s) changed digest upstream (a pinned version never changes; nothing was written for them):\n", sub, len(conflicts))
		for _, c := range conflicts {
			fmt.Fprintf(&b, "  %s\n", c)
		}
		return exitError{code: exitFail, msg: strings.TrimSuffix(b.String(), "\n")}
	}
	return nil
}

// indexCrawlers are the crawlers of a manifest: the toolchain's Debian
// suite and [index] debian_suites, [index] upstream, [index] git.
func indexCrawlers(e *env, m *manifest.Manifest, kr *debarchive.Keyring, catalog *index.CatalogCrawl) ([]index.Crawler, error) {
	spec := m.Crawl.Versions()
	archive := m.Crawl.DebianArchive
	if archive == "" {
		archive = m.Toolchain.Archive
	}
	var cs []index.Crawler
	var suites []string
	for _, s := range append([]string{m.Toolchain.Suite}, m.Crawl.DebianSuites...) {
		if s != "" && !slices.Contains(suites, s) {
			suites = append(suites, s)
		}
	}
	if archive != "" {
		for _, s := range suites {
			cs = append(cs, index.Debian{Archive: archive, Suite: s, Components: []string{"main"}, Keyring: kr, Catalog: catalog})
		}
	}
	if m.Crawl.Upstream != "" {
		cs = append(cs, index.Upstream{URL: m.Crawl.Upstream, Spec: spec})
	}
	if g := m.Crawl.Git; g != "" {
		repo := g
		if !filepath.IsAbs(g) && !strings.Contains(g, "://") {
			repo = filepath.Join(filepath.Dir(e.manifestPath), g)
		}
		if strings.Contains(g, "://") {
			dir, err := store.DefaultDir()
			if err != nil {
				return nil, err
			}
			if repo, err = index.Mirror(e.ctx, g, filepath.Join(dir, "index", "git")); err != nil {
				return nil, err
			}
		}
		cs = append(cs, index.Git{Repo: repo, Spec: spec})
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%s: nothing to crawl: set [toolchain] archive and suite, or [index] debian_suites, upstream or git", e.manifestPath)
	}
	return cs, nil
}

// readKeyring reads the --keyring file (nil: Debian's keys).
func readKeyring(file string) (*debarchive.Keyring, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kr, err := debarchive.ReadKeyring(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return kr, nil
}

func encodeIndexFile(f *manifest.IndexFile) []byte {
	if f.Postgres == nil {
		f.Postgres = []manifest.IndexedRelease{}
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return append(b, '\n')
}

func sameFile(a, b *manifest.IndexFile) bool {
	return bytes.Equal(encodeIndexFile(a), encodeIndexFile(b))
}

// writeIndexFile replaces path atomically.
func writeIndexFile(path string, f *manifest.IndexFile) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".monogres.index-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(encodeIndexFile(f)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
