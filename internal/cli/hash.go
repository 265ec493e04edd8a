package cli

import (
	"context"
	"fmt"

	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
)

// hashInput returns the downloader `monogres lock` uses for inputs no index
// pins: it tries the URLs in order (through mirrors), keeps the verified
// bytes in the store, and derives SOURCE_DATE_EPOCH from archives. Local
// files are read only inside the manifest's directory and distdirs, and
// every download is bounded (fetch.Limits).
func (e *env) hashInput(m *manifest.Manifest) func(context.Context, lock.Input) (lock.Hashed, error) {
	return func(ctx context.Context, in lock.Input) (lock.Hashed, error) {
		st, err := app.OpenStore()
		if err != nil {
			return lock.Hashed{}, err
		}
		f, err := app.Fetcher(m, st, 1, false, event.Discard)
		if err != nil {
			return lock.Hashed{}, err
		}
		sha, size, from, err := f.HashFirst(ctx, in.Name, in.URLs)
		if err != nil {
			return lock.Hashed{}, err
		}
		fmt.Fprintf(e.stderr, "hashed %s from %s\n", in.Name, from)
		h := lock.Hashed{SHA256: sha, Size: size}
		if in.Kind == lock.KindPostgres || in.Kind == lock.KindExtension {
			if sde, err := archive.SourceDateEpoch(ctx, st.Path(sha)); err == nil {
				h.SourceDateEpoch = sde
			}
		}
		return h, nil
	}
}
