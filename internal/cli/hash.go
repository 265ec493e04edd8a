package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
)

// hashInput returns the downloader `monogres lock` uses for inputs no index
// pins: it tries the URLs in order, each through the manifest's mirrors
// first, and hashes the first that answers.
func (e *env) hashInput(m *manifest.Manifest) func(context.Context, lock.Input) (lock.Hashed, error) {
	return func(ctx context.Context, in lock.Input) (lock.Hashed, error) {
		var errs []error
		for _, u := range mirrored(m.Mirrors, in.URLs) {
			h, err := hashURL(ctx, u)
			if err == nil {
				fmt.Fprintf(e.stderr, "hashed %s from %s\n", in.Name, u)
				return h, nil
			}
			errs = append(errs, err)
		}
		return lock.Hashed{}, fmt.Errorf("no URL of %s could be read: %v", in.Name, errs)
	}
}

// mirrored lists each URL's mirror rewrites (in manifest order) before the URL itself.
func mirrored(mirrors []manifest.Mirror, urls []string) []string {
	var out []string
	for _, u := range urls {
		for _, mr := range mirrors {
			if rest, ok := strings.CutPrefix(u, mr.From); ok {
				out = append(out, mr.To+rest)
			}
		}
		out = append(out, u)
	}
	return out
}

func hashURL(ctx context.Context, raw string) (lock.Hashed, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return lock.Hashed{}, err
	}
	var r io.ReadCloser
	switch u.Scheme {
	case "file":
		r, err = os.Open(u.Path)
	case "http", "https":
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			err = fmt.Errorf("%s: %s", raw, resp.Status)
		}
		if err == nil {
			r = resp.Body
		}
	default:
		err = fmt.Errorf("%s: unsupported scheme %q", raw, u.Scheme)
	}
	if err != nil {
		return lock.Hashed{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return lock.Hashed{}, fmt.Errorf("%s: %v", raw, err)
	}
	return lock.Hashed{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
