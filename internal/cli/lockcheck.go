package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// trustVersion changes when what verifyToolchain checks changes, so memos
// of an older monogres are not trusted.
const trustVersion = "monogres lock --check toolchain trust v2"

// missingIndex starts the problem of index files not at hand.
const missingIndex = "cannot verify the toolchain pins offline"

// toolchainPins are the lock's Debian packages and index files.
func toolchainPin(in lock.Input) bool { return in.Kind == lock.KindDeb || in.Kind == lock.KindIndex }

// verifyToolchain checks every deb/* and index/* pin of l against its trust
// root, offline: the pinned Release file's OpenPGP signature against the
// keys the manifest trusts, the pinned Packages files against the digests
// the signed Release lists, and every .deb pin (name, version, arch,
// sha256, size, URL, roots) against the toolchain resolved again from those
// Packages files, so a changed, added or removed package is caught. The
// index files come from the store or distdirs only; when one is missing the
// check fails closed. A verified lock is remembered in the store (keyed by
// the pins, the toolchain request and the trusted keys), so the next check
// skips the work. It returns the problems found, and a summary line.
func (e *env) verifyToolchain(m *manifest.Manifest, l *lock.Lock) (problems []string, summary string, err error) {
	var pins []lock.Input
	for _, in := range l.Inputs {
		if toolchainPin(in) {
			pins = append(pins, in)
		}
	}
	if len(pins) == 0 {
		return nil, "", nil
	}
	st, err := app.OpenStore()
	if err != nil {
		return nil, "", err
	}
	key, err := trustMemoKey(m, pins, l.Roots)
	if err != nil {
		return nil, "", err
	}
	memo := filepath.Join(st.Dir(), "memo", "lock-check", key)
	if b, err := os.ReadFile(memo); err == nil {
		return nil, string(b), nil
	}
	spec, src, err := toolchainSource(m)
	if err != nil {
		return nil, "", err
	}
	prefix := "index/" + src.Suite + "/"
	var index []lock.Input
	for _, in := range pins {
		if in.Kind == lock.KindIndex && strings.HasPrefix(in.Name, prefix) {
			index = append(index, in)
		}
	}
	relName := ""
	for _, n := range []string{"InRelease", "Release"} {
		if _, ok := l.Find(prefix + n); ok {
			relName = prefix + n
			break
		}
	}
	if relName == "" {
		return []string{fmt.Sprintf("the lock pins no signed Release file for %s (%sInRelease): its deb/* pins have no trust root; run `monogres lock --update toolchain`", src.Suite, prefix)}, "", nil
	}
	files, missing, err := e.indexFiles(m, st, index, prefix)
	if err != nil {
		return nil, "", err
	}
	if len(missing) > 0 {
		return []string{fmt.Sprintf(missingIndex+": %s not in the store (%s) or the distdirs; run `monogres fetch 'index/*'` (lock --check verifies the deb/* pins against the signed index and never downloads)", strings.Join(missing, ", "), st.Dir())}, "", nil
	}
	idx, err := toolchains.LoadPinned(src, files)
	if err != nil {
		return []string{fmt.Sprintf("the pinned index does not verify (%s is the trust root of every deb/* pin): %v", relName, err)}, "", nil
	}
	want, wantRoots, err := toolchainEntries(m, spec, idx, nil, io.Discard)
	if err != nil {
		return []string{fmt.Sprintf("the toolchain does not resolve from the pinned index %s: %v", relName, err)}, "", nil
	}
	signed := fmt.Sprintf("%s, signed by %s", relName, idx.Verified.SignedBy())
	root := func(in lock.Input) string {
		if in.Kind == lock.KindIndex {
			if in.Name == relName || in.Name == prefix+"Release.gpg" {
				return "the signature check of " + signed
			}
			return signed
		}
		name := in.Name[strings.LastIndexByte(in.Name, '/')+1:]
		if from := idx.Origin(name, in.Arch, in.Version); from != "" {
			return fmt.Sprintf("%s%s (listed in %s)", prefix, from, signed)
		}
		return fmt.Sprintf("the Packages index of %s", signed)
	}
	problems = lock.VerifyPins(l, want, toolchainPin, root)
	problems = append(problems, lock.VerifyRoots(l, wantRoots, "the toolchain resolved from "+signed)...)
	if len(problems) > 0 {
		return problems, "", nil
	}
	summary = fmt.Sprintf("verified %d toolchain pins against %s", len(pins), signed)
	if err := os.MkdirAll(filepath.Dir(memo), 0o755); err == nil {
		writeFileAtomic(memo, []byte(summary)) // a lost memo only costs time
	}
	return nil, summary, nil
}

// trustMemoKey digests everything verifyToolchain's answer depends on: the
// memo format, the toolchain request, the trusted key fingerprints (the
// default ones when the manifest names none) and keyring, and the lock's
// deb/* and index/* pins (so the index files' sha256s) and roots, in
// canonical form. Any edit of a pin is a different key, so a memo never
// stands in for checking a changed lock.
func trustMemoKey(m *manifest.Manifest, pins []lock.Input, roots []lock.Root) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", trustVersion, lock.ToolchainDigest(m))
	fps := m.Toolchain.Keys
	if len(fps) == 0 {
		fps = debarchive.Debian12Keys
	}
	fmt.Fprintf(h, "keys %q\n", fps)
	digests := toolchains.ManifestSpec(m).Digests()
	for _, name := range slices.Sorted(maps.Keys(digests)) {
		fmt.Fprintf(h, "layer %q %s\n", name, digests[name])
	}
	if m.Toolchain.Keyring != "" {
		b, err := os.ReadFile(manifestRel(m, m.Toolchain.Keyring))
		if err != nil {
			return "", fmt.Errorf("%s: toolchain.keyring: %w", m.File, err)
		}
		fmt.Fprintf(h, "keyring %x\n", sha256.Sum256(b))
	}
	b, err := lock.Encode(&lock.Lock{Version: lock.FormatVersion, Inputs: pins, Roots: roots})
	if err != nil {
		return "", err
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// indexFiles reads the pinned index files from the store, importing them
// from the distdirs first (never from the network). It returns them by path
// under dists/<suite>/, and the names of those it could not find.
func (e *env) indexFiles(m *manifest.Manifest, st *store.Store, index []lock.Input, prefix string) (map[string][]byte, []string, error) {
	f, err := app.Fetcher(m, st, 4, true, nil)
	if err != nil {
		return nil, nil, err
	}
	f.Apt = false
	fetchErr := f.Fetch(e.ctx, index)
	files := map[string][]byte{}
	var missing []string
	for _, in := range index {
		r, err := st.Open(in.SHA256)
		if err != nil {
			var de *store.DamageError
			if errors.As(err, &de) || errors.Is(err, os.ErrNotExist) {
				missing = append(missing, in.Name)
				continue
			}
			return nil, nil, err
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, nil, err
		}
		files[strings.TrimPrefix(in.Name, prefix)] = b
	}
	if len(missing) == 0 && fetchErr != nil && e.ctx.Err() != nil {
		return nil, nil, fetchErr
	}
	return files, missing, nil
}
