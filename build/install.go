package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/store"
)

// Install extracts packages (hex sha256 in st: a Postgres package, then
// the packages of extensions built against it) into dir, which must not
// exist or be empty, the way the smoke test assembles them: a tree that
// runs from dir (bin/initdb, bin/postgres, lib/, share/). On error dir is
// left empty or absent.
func Install(ctx context.Context, st *store.Store, dir string, packages ...string) (err error) {
	if len(packages) == 0 {
		return fmt.Errorf("build: install into %s: no package", dir)
	}
	path := func(sha string) (string, error) {
		p, err := st.Check(sha)
		if err != nil {
			return "", fmt.Errorf("build: install: package %s: %w", sha, err)
		}
		return p, nil
	}
	first, err := path(packages[0])
	if err != nil {
		return err
	}
	if err := archive.Extract(ctx, first, dir, archive.Options{}); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	for _, sha := range packages[1:] {
		p, err := path(sha)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".install-")
		if err != nil {
			return fmt.Errorf("build: install: %w", err)
		}
		defer os.RemoveAll(tmp)
		ext := filepath.Join(tmp, "pkg")
		if err := archive.Extract(ctx, p, ext, archive.Options{}); err != nil {
			return err
		}
		if err := merge(ext, dir); err != nil {
			return fmt.Errorf("build: install %s into %s: %w", sha, dir, err)
		}
	}
	return nil
}
