package fetch

import (
	"context"
	"fmt"
	"strings"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// Added is one file imported by AddFiles.
type Added struct {
	Path   string
	SHA256 string
	Size   int64
	// Inputs are the names of the locked inputs these bytes satisfy.
	Inputs []string
}

// String is the line `monogres store add` prints for the file:
//
//	added postgresql-15_15.18.orig.tar.bz2: sha256:11df0d... (23405115 bytes), satisfies postgres/15.18
//	added notes.txt: sha256:... (12 bytes), not referenced by monogres.lock
func (a Added) String() string {
	s := fmt.Sprintf("added %s: sha256:%s (%d bytes), ", a.Path, a.SHA256, a.Size)
	if len(a.Inputs) == 0 {
		return s + "not referenced by monogres.lock"
	}
	return s + "satisfies " + strings.Join(a.Inputs, ", ")
}

// AddFiles imports each file into st by its own hash and says which of
// inputs (the lock's, may be nil) it satisfies. A file whose sha256 matches
// an input but whose size does not is reported as an error. It stops at the
// first file that cannot be read.
func AddFiles(ctx context.Context, st *store.Store, paths []string, inputs []lock.Input) ([]Added, error) {
	bySHA := map[string][]lock.Input{}
	for _, in := range inputs {
		bySHA[in.SHA256] = append(bySHA[in.SHA256], in)
	}
	var out []Added
	for _, p := range paths {
		sha, size, err := st.AddFile(ctx, p)
		if err != nil {
			return out, err
		}
		a := Added{Path: p, SHA256: sha, Size: size}
		for _, in := range bySHA[sha] {
			if in.Size > 0 && in.Size != size {
				return out, fmt.Errorf("store add %s: sha256 matches input %s but the size is %d, not the locked %d", p, in.Name, size, in.Size)
			}
			a.Inputs = append(a.Inputs, in.Name)
		}
		out = append(out, a)
	}
	return out, nil
}
