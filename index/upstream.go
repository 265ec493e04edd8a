package index

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/monogres/monogres/internal/manifest"
)

// Upstream reads a directory laid out like
// https://ftp.postgresql.org/pub/source/: its listing links vX.Y/, and each
// vX.Y/ holds postgresql-X.Y.tar.bz2 with postgresql-X.Y.tar.bz2.sha256
// ("HEX  postgresql-X.Y.tar.bz2"). The digest is read from the .sha256
// file; the tarball is not downloaded (a HEAD request gives its size).
type Upstream struct {
	URL    string
	Spec   *manifest.Spec // versions to read (nil: all)
	Client *http.Client
}

func (u Upstream) Name() string { return "upstream " + u.URL }

var versionDir = regexp.MustCompile(`href="(?:\./)?v(\d+\.\d+)/"`)

// Crawl lists the directory and reads the .sha256 of every release in it,
// eight at a time. A version directory without a .sha256 is an error: the
// layout is not what it claims.
func (u Upstream) Crawl(ctx context.Context) ([]Found, error) {
	client := clientOr(u.Client)
	base := strings.TrimSuffix(u.URL, "/") + "/"
	listing, err := get(ctx, client, base)
	if err != nil {
		return nil, err
	}
	var versions []manifest.Version
	seen := map[string]bool{}
	for _, m := range versionDir.FindAllStringSubmatch(string(listing), -1) {
		v, err := manifest.ParseVersion(m[1])
		if err != nil || seen[v.String()] || (u.Spec != nil && !u.Spec.Match(v)) {
			continue
		}
		seen[v.String()] = true
		versions = append(versions, v)
	}
	out := make([]Found, len(versions))
	errs := make([]error, len(versions))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = u.release(ctx, client, base, v)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (u Upstream) release(ctx context.Context, client *http.Client, base string, v manifest.Version) (Found, error) {
	name := "postgresql-" + v.String() + ".tar.bz2"
	url := base + "v" + v.String() + "/" + name
	b, err := get(ctx, client, url+".sha256")
	if err != nil {
		return Found{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || strings.TrimPrefix(f[1], "*") != name {
		return Found{}, fmt.Errorf("%s.sha256: want \"SHA256  %s\", got %q", url, name, strings.TrimSpace(string(b)))
	}
	var sum manifest.SHA256
	if err := sum.UnmarshalText([]byte(f[0])); err != nil {
		return Found{}, fmt.Errorf("%s.sha256: %v", url, err)
	}
	r := manifest.Release{Version: v.String(), Source: "tarball", SHA256: sum}
	if req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil); err == nil {
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.ContentLength > 0 {
				r.Size = resp.ContentLength
			}
		}
	}
	return Found{Release: r, Origin: "upstream " + url + ".sha256"}, nil
}
