package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
)

// hashInput returns the downloader `monogres lock` uses for inputs no index
// pins: it tries the URLs in order (through mirrors), keeps the verified
// bytes in the store, and derives SOURCE_DATE_EPOCH from archives.
func (e *env) hashInput(m *manifest.Manifest) func(context.Context, lock.Input) (lock.Hashed, error) {
	return func(ctx context.Context, in lock.Input) (lock.Hashed, error) {
		st, err := e.openStore()
		if err != nil {
			return lock.Hashed{}, err
		}
		f := e.fetcher(m, st, 1, false, event.Discard)
		var errs []string
		for _, u := range mirrored(m.Mirrors, in.URLs) {
			sha, size, err := f.Hash(ctx, in.Name, u)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			fmt.Fprintf(e.stderr, "hashed %s from %s\n", in.Name, u)
			h := lock.Hashed{SHA256: sha, Size: size}
			if in.Kind == lock.KindPostgres || in.Kind == lock.KindExtension {
				if sde, err := archive.SourceDateEpoch(ctx, st.Path(sha)); err == nil {
					h.SourceDateEpoch = sde
				}
			}
			return h, nil
		}
		return lock.Hashed{}, fmt.Errorf("no URL of %s could be read:\n\t%s", in.Name, strings.Join(errs, "\n\t"))
	}
}

// mirrored lists each URL's mirror rewrites (in manifest order) before the
// URL itself. Fetcher.Hash takes one URL as given, so the rewrites happen here.
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
