// Package index discovers Postgres releases and pins their sha256 from
// sources a packager trusts, without downloading release tarballs: Debian's
// signed Sources indexes, an upstream directory of release tarballs with
// their .sha256 files, and a git repository's release tags archived locally
// exactly as GitHub archives them. Update merges what the crawlers found
// into the index file beside the manifest (manifest.IndexFile); a version
// already pinned never silently changes digest: a crawler reporting another
// one is a Conflict, and Check turns conflicts into a failing CI gate.
package index

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
)

// Found is a release a crawler found: version, source kind ("tarball" or
// "github"), digest, and where the digest was read.
type Found struct {
	manifest.Release
	Origin string
}

// Crawler discovers releases.
type Crawler interface {
	// Name says what is crawled, for messages ("debian sid", "upstream URL").
	Name() string
	Crawl(ctx context.Context) ([]Found, error)
}

// Conflict is a release whose digest a crawler reports differently from
// the one already pinned (in the built-in index, the index file, or by an
// earlier crawler of the same run).
type Conflict struct {
	Version, Source string
	Pinned, Found   manifest.SHA256
	PinnedFrom      string // "built-in index", "monogres.index.json (origins)" or a crawler
	Origin          string
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s %s: %s says sha256 %s, but %s pins %s", c.Version, c.Source, c.Origin, c.Found, c.PinnedFrom, c.Pinned)
}

// Result is the outcome of a crawl merged with what is pinned.
type Result struct {
	// File is the index file with the new releases (and new origins of
	// releases it already holds) added; conflicting digests are never written.
	File manifest.IndexFile
	// New are the releases neither the built-in index nor the file knew.
	New       []manifest.IndexedRelease
	Conflicts []Conflict
	// Confirmed counts crawled releases whose digest matched the pin.
	Confirmed int
}

// Merge merges found releases into the index file f, checking them against
// the built-in index and f. Releases outside spec (if set) are ignored.
func Merge(builtin *manifest.Index, f *manifest.IndexFile, found []Found, spec *manifest.Spec) Result {
	type key struct{ version, source string }
	res := Result{File: manifest.IndexFile{Postgres: slices.Clone(f.Postgres)}}
	at := map[key]int{}
	for i, r := range res.File.Postgres {
		at[key{r.Version, r.Source}] = i
	}
	fresh := map[key]bool{}
	slices.SortStableFunc(found, func(a, b Found) int {
		return cmp.Or(manifest.MustVersion(a.Version).Compare(manifest.MustVersion(b.Version)), strings.Compare(a.Source, b.Source), strings.Compare(a.Origin, b.Origin))
	})
	for _, fd := range found {
		v := manifest.MustVersion(fd.Version)
		if spec != nil && !spec.Match(v) {
			continue
		}
		k := key{fd.Version, fd.Source}
		if i, ok := at[k]; ok {
			r := &res.File.Postgres[i]
			if r.SHA256 != fd.SHA256 {
				from := manifest.IndexFileName + " (" + strings.Join(r.Origins, ", ") + ")"
				if fresh[k] {
					from = strings.Join(r.Origins, ", ")
				}
				res.Conflicts = append(res.Conflicts, Conflict{fd.Version, fd.Source, r.SHA256, fd.SHA256, from, fd.Origin})
				continue
			}
			if !slices.Contains(r.Origins, fd.Origin) {
				r.Origins = append(r.Origins, fd.Origin)
				slices.Sort(r.Origins)
			}
			fill(&r.Release, fd.Release)
			if !fresh[k] {
				res.Confirmed++
			}
			continue
		}
		if p, ok := builtin.Pinned(v, fd.Source); ok {
			if p.SHA256 != fd.SHA256 {
				res.Conflicts = append(res.Conflicts, Conflict{fd.Version, fd.Source, p.SHA256, fd.SHA256, "the built-in index", fd.Origin})
			} else {
				res.Confirmed++
			}
			continue
		}
		at[k] = len(res.File.Postgres)
		fresh[k] = true
		res.File.Postgres = append(res.File.Postgres, manifest.IndexedRelease{Release: fd.Release, Origins: []string{fd.Origin}})
	}
	slices.SortFunc(res.File.Postgres, func(a, b manifest.IndexedRelease) int {
		return cmp.Or(manifest.MustVersion(a.Version).Compare(manifest.MustVersion(b.Version)), strings.Compare(a.Source, b.Source))
	})
	for _, r := range res.File.Postgres {
		if fresh[key{r.Version, r.Source}] {
			res.New = append(res.New, r)
		}
	}
	return res
}

// fill copies facts a crawler knows that r lacks (size, tag, apt hint).
func fill(r *manifest.Release, o manifest.Release) {
	if r.Size == 0 {
		r.Size = o.Size
	}
	if r.Tag == "" {
		r.Tag = o.Tag
	}
	if r.Apt == "" {
		r.Apt = o.Apt
	}
}

// CrawlAll runs the crawlers one after another and returns everything they
// found; the first error stops it (a crawler that cannot prove what it read
// must not be half-trusted).
func CrawlAll(ctx context.Context, crawlers []Crawler) ([]Found, error) {
	var all []Found
	for _, c := range crawlers {
		f, err := c.Crawl(ctx)
		if err != nil {
			return nil, fmt.Errorf("index: %s: %w", c.Name(), err)
		}
		all = append(all, f...)
	}
	return all, nil
}

// maxBody bounds what is read from one URL (Sources indexes of sid are
// ~12 MB compressed).
const maxBody = 256 << 20

// get fetches url; a non-200 status is an error naming it.
func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, maxBody)
	}
	return b, nil
}

func clientOr(c *http.Client) *http.Client {
	if c == nil {
		return http.DefaultClient
	}
	return c
}
