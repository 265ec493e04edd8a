package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// distdirCandidates are the file names looked for in a distdir, in order:
// the input's sha256 itself, the basename of each locked URL, and the file
// name apt would produce for its Apt artifact. Only these are hashed (and
// only when their size matches a known locked size): a distdir is never
// scanned wholesale.
func distdirCandidates(in lock.Input) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && n != "." && n != "/" && !strings.Contains(n, "/") && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	add(in.SHA256)
	for _, u := range in.URLs {
		if pu, err := url.Parse(u); err == nil && pu.Path != "" {
			add(path.Base(pu.Path))
		} else {
			add(path.Base(u))
		}
	}
	if a, err := parseApt(in.Apt); err == nil {
		add(a.fileName())
	}
	return out
}

// fromDistdir imports the input from dir if a candidate file there has the
// locked bytes. It returns the file used.
func (f *Fetcher) fromDistdir(ctx context.Context, in lock.Input, dir string) (string, error) {
	var tried []string
	for _, name := range distdirCandidates(in) {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if in.Size > 0 && fi.Size() != in.Size {
			tried = append(tried, fmt.Sprintf("%s has %d bytes, not %d", name, fi.Size(), in.Size))
			continue
		}
		file, err := os.Open(p)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		err = f.Store.Put(ctx, file, in.SHA256, in.Size)
		file.Close()
		var sm *store.MismatchError
		switch {
		case err == nil:
			return p, nil
		case errors.As(err, &sm):
			tried = append(tried, fmt.Sprintf("%s is different (sha256 %s)", name, sm.GotSHA256))
		default:
			return "", err
		}
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("none of %s", strings.Join(distdirCandidates(in), ", "))
	}
	return "", errors.New(strings.Join(tried, "; "))
}
