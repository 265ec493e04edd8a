package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
)

// Git reads a Postgres git repository's release tags (REL_X_Y, and
// REL9_6_24 style before 10) and computes each tag's archive locally the
// way GitHub serves https://github.com/OWNER/REPO/archive/refs/tags/TAG.tar.gz:
// `git archive --format=tar --prefix=REPO-TAG/ TAG`, compressed by
// `gzip -n` (no file name, no time stamp). So a GitHub archive's hash is
// checked without trusting GitHub. Repo is a local repository (bare or not);
// Prefix is the archive's top folder name before the tag (default
// "postgres-", as GitHub names postgres/postgres archives).
type Git struct {
	Repo   string
	Prefix string
	Spec   *manifest.Spec
}

func (g Git) Name() string { return "git " + g.Repo }

var releaseTag = regexp.MustCompile(`^REL_?(\d+)_(\d+)(?:_(\d+))?$`)

// tagVersion maps REL_18_6 to 18.6 and REL9_6_24 to 9.6.24.
func tagVersion(tag string) (manifest.Version, bool) {
	m := releaseTag.FindStringSubmatch(tag)
	if m == nil {
		return manifest.Version{}, false
	}
	s := m[1] + "." + m[2]
	if m[3] != "" {
		s += "." + m[3]
	}
	if maj, _ := strconv.Atoi(m[1]); (maj >= 10) != (m[3] == "") {
		return manifest.Version{}, false
	}
	v, err := manifest.ParseVersion(s)
	return v, err == nil
}

func (g Git) Crawl(ctx context.Context) ([]Found, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", g.Repo, "tag", "--list", "REL*").Output()
	if err != nil {
		return nil, fmt.Errorf("git tag --list in %s: %w", g.Repo, stderrOf(err))
	}
	var found []Found
	for _, tag := range strings.Fields(string(out)) {
		v, ok := tagVersion(tag)
		if !ok || (g.Spec != nil && !g.Spec.Match(v)) {
			continue
		}
		sum, err := g.TagArchiveSHA256(ctx, tag)
		if err != nil {
			return nil, err
		}
		found = append(found, Found{
			Release: manifest.Release{Version: v.String(), Source: "github", SHA256: manifest.SHA256(sum), Tag: tag},
			Origin:  "git archive of tag " + tag + " in " + g.Repo,
		})
	}
	slices.SortFunc(found, func(a, b Found) int { return manifest.MustVersion(a.Version).Compare(manifest.MustVersion(b.Version)) })
	return found, nil
}

// TagArchiveSHA256 is the sha256 of the GitHub-identical tar.gz of tag.
func (g Git) TagArchiveSHA256(ctx context.Context, tag string) (string, error) {
	h := sha256.New()
	if err := g.WriteTagArchive(ctx, tag, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteTagArchive writes the GitHub-identical tar.gz of tag to w.
func (g Git) WriteTagArchive(ctx context.Context, tag string, w io.Writer) error {
	prefix := g.Prefix
	if prefix == "" {
		prefix = "postgres-"
	}
	ga := exec.CommandContext(ctx, "git", "-C", g.Repo, "archive", "--format=tar", "--prefix="+prefix+tag+"/", "refs/tags/"+tag)
	gz := exec.CommandContext(ctx, "gzip", "-n", "-c")
	pipe, err := ga.StdoutPipe()
	if err != nil {
		return err
	}
	var gaErr, gzErr strings.Builder
	ga.Stderr, gz.Stderr = &gaErr, &gzErr
	gz.Stdin, gz.Stdout = pipe, w
	if err := ga.Start(); err != nil {
		return fmt.Errorf("git archive %s: %w", tag, err)
	}
	if err := gz.Run(); err != nil {
		ga.Wait()
		return fmt.Errorf("gzip -n of git archive %s: %v %s", tag, err, gzErr.String())
	}
	if err := ga.Wait(); err != nil {
		return fmt.Errorf("git archive %s in %s: %v %s", tag, g.Repo, err, strings.TrimSpace(gaErr.String()))
	}
	return nil
}

// Mirror makes a bare clone of url under dir (or fetches its tags if it is
// there already) and returns its path, for crawling a remote repository.
func Mirror(ctx context.Context, url, dir string) (string, error) {
	sum := sha256.Sum256([]byte(url))
	path := filepath.Join(dir, hex.EncodeToString(sum[:8])+".git")
	var cmd *exec.Cmd
	if _, err := os.Stat(path); err == nil {
		cmd = exec.CommandContext(ctx, "git", "-C", path, "fetch", "--tags", "--force", "origin")
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		cmd = exec.CommandContext(ctx, "git", "clone", "--bare", "--quiet", url, path)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %v: %s", cmd.Args, err, strings.TrimSpace(string(out)))
	}
	return path, nil
}

func stderrOf(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
