package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
)

// resultVersion changes when what a passing check's memo holds, or what
// its key covers, changes.
const resultVersion = "monogres lock --check result v1"

// checkMemoHits counts memo hits, for tests.
var checkMemoHits int

// checkMemo remembers a `lock --check` that passed, so the same check
// again skips decoding the manifest and the lock. It is stored under a key
// that digests everything the check reads (see checkMemoKey) except the
// files the manifest points to, which are listed in Deps with their
// sha256 and hashed again on every hit. Only a passing check is
// remembered; a failing one is always checked in full.
type checkMemo struct {
	Deps     []memoDep    `json:"deps"`
	Inputs   int          `json:"inputs"`
	Summary  string       `json:"summary,omitempty"`
	LockOnly []string     `json:"lock_only,omitempty"`
	Changes  []changeJSON `json:"changes,omitempty"`
}

// memoDep is a file the check read besides the manifest and the lock, and
// its sha256 then ("" if it did not exist).
type memoDep struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// checkMemoKey digests what a check's answer depends on, short of the
// files in checkDeps: the memo format, the running monogres binary (its
// inode, size, modification and change times: the release index, the
// trusted Debian keys and the checking code are all in it), the manifest's
// and the lock's absolute paths (relative paths in the manifest resolve
// against them) and their exact bytes. It returns "" when the binary
// cannot be identified; then nothing is remembered.
func checkMemoKey(manifestPath, lockPath string, manifestData, lockData []byte) string {
	exe := store.BinaryStamp()
	if exe == "" {
		return ""
	}
	mp, err1 := filepath.Abs(manifestPath)
	lp, err2 := filepath.Abs(lockPath)
	if err1 != nil || err2 != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", resultVersion, exe)
	fmt.Fprintf(h, "manifest %q %x\nlock %q %x\n", mp, sha256.Sum256(manifestData), lp, sha256.Sum256(lockData))
	return hex.EncodeToString(h.Sum(nil))
}

// checkDeps are the files besides the manifest and the lock whose content
// a check depends on: the catalog when the manifest selects from it, local
// plugin files, and the toolchain keyring. (Index files are pinned by
// sha256 in the lock, so the lock's bytes cover them.) A new file read by
// `lock --check` belongs here, or the memo could stand in for a check that
// would now fail.
func checkDeps(m *manifest.Manifest) []string {
	var deps []string
	if len(m.Select) > 0 {
		deps = append(deps, manifest.CatalogFilePath(m.File))
	}
	for _, p := range m.Plugins {
		if p.Path != "" {
			deps = append(deps, manifestRel(m, p.Path))
		}
	}
	if m.Toolchain.Keyring != "" {
		deps = append(deps, manifestRel(m, m.Toolchain.Keyring))
	}
	for i, d := range deps {
		if abs, err := filepath.Abs(d); err == nil {
			deps[i] = abs
		}
	}
	return deps
}

// fileSHA256 is the hex sha256 of the file at path, or "" if there is none.
func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func checkMemoPath(key string) (string, error) {
	st, err := app.OpenStore()
	if err != nil {
		return "", err
	}
	return filepath.Join(st.Dir(), "memo", "lock-check-result", key), nil
}

// loadCheckMemo returns the memo of key if there is one and every file it
// lists is unchanged.
func loadCheckMemo(key string) (*checkMemo, bool) {
	if key == "" {
		return nil, false
	}
	path, err := checkMemoPath(key)
	if err != nil {
		return nil, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var memo checkMemo
	if json.Unmarshal(b, &memo) != nil {
		return nil, false
	}
	for _, d := range memo.Deps {
		if sum, err := fileSHA256(d.Path); err != nil || sum != d.SHA256 {
			return nil, false
		}
	}
	return &memo, true
}

// snapshotDeps hashes the files checkDeps lists. A check takes it before
// the files are read and again after, and remembers its answer only if
// both agree, so the memo names the content the check saw (the catalog,
// read while the manifest is parsed, is hashed first: catalogSum).
func snapshotDeps(m *manifest.Manifest, catalogSum string) ([]memoDep, error) {
	deps := []memoDep{}
	catalog, _ := filepath.Abs(manifest.CatalogFilePath(m.File))
	for _, d := range checkDeps(m) {
		sum := catalogSum
		if d != catalog {
			var err error
			if sum, err = fileSHA256(d); err != nil {
				return nil, err
			}
		}
		deps = append(deps, memoDep{d, sum})
	}
	return deps, nil
}

// saveCheckMemo remembers a passing check of m under key, if the files it
// depends on still hash as they did before the check (before). A lost memo
// only costs time, so errors are ignored.
func saveCheckMemo(key string, m *manifest.Manifest, before []memoDep, memo checkMemo) {
	if key == "" || before == nil {
		return
	}
	catalogSum, err := fileSHA256(manifest.CatalogFilePath(m.File))
	if err != nil {
		return
	}
	after, err := snapshotDeps(m, catalogSum)
	if err != nil || !slices.Equal(after, before) {
		return
	}
	memo.Deps = before
	path, err := checkMemoPath(key)
	if err != nil {
		return
	}
	b, err := json.Marshal(memo)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		writeFileAtomic(path, b)
	}
}
