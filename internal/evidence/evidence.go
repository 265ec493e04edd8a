// Package evidence writes and checks what a third party needs to trust a
// monogres package: an SPDX 2.3 SBOM (CELL.spdx.json), SLSA v1 provenance
// in a signed DSSE envelope (CELL.intoto.jsonl) and, after a bit-for-bit
// rebuild, a signed SLSA verification summary (CELL.vsa.intoto.jsonl).
// docs/attestations.md says what each proves and how to check it with
// public tools.
//
// Invariants: the SBOM and the provenance are functions of the package,
// its manifest, the lock inputs and the signing key: the same build gives
// the same bytes (ed25519 signatures are deterministic, JSON is written
// with sorted keys and no timestamps but SOURCE_DATE_EPOCH). Documents go
// into the store's CAS first and are linked beside the package, so a
// reader never sees half a file.
package evidence

import (
	"archive/tar"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// Suffixes of the documents written beside CELL.tar.zst.
const (
	SBOMSuffix       = ".spdx.json"
	ProvenanceSuffix = ".intoto.jsonl"
	VSASuffix        = ".vsa.intoto.jsonl"
)

// Package is what the documents describe: one published package and
// everything that went into it.
type Package struct {
	// Cell is the cell name; PackagePath its .tar.zst and ManifestPath its
	// CELL.json (in OutDir or the CAS).
	Cell         string
	PackagePath  string
	ManifestPath string
	// Manifest is the decoded CELL.json, Ext its extension fields (empty
	// for a Postgres cell) and ManifestSHA256 its digest.
	Manifest       build.Manifest
	Ext            ExtensionFields
	ManifestSHA256 string
	// Source is the Postgres or extension source archive.
	Source lock.Input
	// Toolchain lists every .deb of the root the package was built in,
	// RootDigest the root's tree digest (if known).
	Toolchain  []lock.Input
	RootDigest string
	// Plugin is the wasm plugin that planned the build, if any.
	Plugin lock.Input
	// Runtime lists the package's runtime dependencies as the build
	// recorded them in CELL.json (nil: not recorded; the SBOM says so).
	Runtime []lock.Input
	// pending: CELL.json is not decoded yet (Peek); raw is its bytes if read.
	pending bool
	raw     []byte
}

// ExtensionFields are what an extension cell's CELL.json adds.
type ExtensionFields struct {
	Extension        string `json:"extension,omitempty"`
	ExtensionVersion string `json:"extension_version,omitempty"`
	Recipe           string `json:"recipe,omitempty"`
	PluginSHA256     string `json:"plugin_sha256,omitempty"`
	Parent           string `json:"parent,omitempty"`
	ParentPackage    string `json:"parent_package,omitempty"`
}

// Extension reports whether p is an extension package.
func (p *Package) Extension() bool { return p.Ext.Extension != "" }

// Load fills a Package from a published package and its manifest; the
// caller adds the lock inputs.
func Load(cell, packagePath, manifestPath string) (*Package, error) {
	p, err := Peek(cell, packagePath, manifestPath, "")
	if err != nil {
		return nil, err
	}
	return p, p.decode()
}

// Peek is Load that neither reads nor decodes CELL.json, whose sha256 the
// caller knows (manifestSHA, from the store's CAS, or "" to read it now):
// Write reads and decodes it only when its memo cannot republish the
// documents. Write trusts that a Package's fields are those of CELL.json.
func Peek(cell, packagePath, manifestPath, manifestSHA string) (*Package, error) {
	p := &Package{Cell: cell, PackagePath: packagePath, ManifestPath: manifestPath, ManifestSHA256: manifestSHA, pending: true}
	if manifestSHA == "" {
		b, err := os.ReadFile(manifestPath)
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		sum := sha256.Sum256(b)
		p.ManifestSHA256, p.raw = hex.EncodeToString(sum[:]), b
	}
	return p, nil
}

// decode fills in p's fields from CELL.json (once), checking its sha256.
func (p *Package) decode() error {
	if !p.pending {
		return nil
	}
	b := p.raw
	if b == nil {
		var err error
		if b, err = os.ReadFile(p.ManifestPath); err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != p.ManifestSHA256 {
			return fmt.Errorf("evidence: %s has sha256 %x, not %s", p.ManifestPath, sum, p.ManifestSHA256)
		}
	}
	base, err := build.DecodeManifest(p.ManifestPath, b)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	var ext ExtensionFields
	if err := json.Unmarshal(b, &ext); err != nil {
		return fmt.Errorf("evidence: %s: %w", p.ManifestPath, err)
	}
	if base.Cell != p.Cell {
		return fmt.Errorf("evidence: %s describes cell %s, not %s", p.ManifestPath, base.Cell, p.Cell)
	}
	p.Manifest, p.Ext, p.Runtime, p.raw, p.pending = *base, ext, recordedRuntime(base.Runtime), nil, false
	return nil
}

// recordedRuntime is the Debian packages of the runtime closure the build
// recorded (CELL.json's runtime; bundled libraries are the package's own
// files), once each; nil when the build recorded none.
func recordedRuntime(closure []build.Library) []lock.Input {
	var out []lock.Input
	seen := map[string]bool{}
	for _, l := range closure {
		if l.Bundled || l.Package == "" || seen[l.SHA256] {
			continue
		}
		seen[l.SHA256] = true
		out = append(out, lock.Input{Name: "deb/" + l.Arch + "/" + l.Package, Kind: lock.KindDeb, Version: l.Version, Arch: l.Arch, SHA256: l.SHA256})
	}
	slices.SortFunc(out, func(a, b lock.Input) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Write creates the SBOM and the signed provenance of p in st and links
// them beside p.PackagePath as CELL.spdx.json and CELL.intoto.jsonl.
func Write(ctx context.Context, st *store.Store, p *Package, signer *keys.PrivateKey) (sbomPath, provPath string, err error) {
	memo := memoPath(st, p, signer)
	if sbomPath, provPath, ok := republish(st, p, memo); ok {
		return sbomPath, provPath, nil
	}
	if err := p.decode(); err != nil {
		return "", "", err
	}
	files, err := packageFiles(ctx, p)
	if err != nil {
		return "", "", err
	}
	sbom, err := SBOM(p, files)
	if err != nil {
		return "", "", err
	}
	sbomPath, sbomSHA, err := publish(ctx, st, p, SBOMSuffix, sbom)
	if err != nil {
		return "", "", err
	}
	st1, err := Provenance(p, signer, sbomSHA)
	if err != nil {
		return "", "", err
	}
	env, err := Sign(st1, signer)
	if err != nil {
		return "", "", err
	}
	provPath, provSHA, err := publish(ctx, st, p, ProvenanceSuffix, env)
	if err != nil {
		return "", "", err
	}
	if memo != "" && os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		_ = store.WriteFileAtomic(memo, []byte(sbomSHA+" "+provSHA+" "+p.Manifest.Package+"\n"), 0o644)
	}
	return sbomPath, provPath, nil
}

// memoPath is where Write remembers the CAS digests of the documents it
// wrote for p signed by signer, and the package's sha256:
// <store>/memo/evidence/KEY, KEY digesting what the documents are a
// function of (the running binary, the bytes of CELL.json, which name the
// package's sha256, the lock inputs and the signer). "" when the binary
// cannot be identified.
func memoPath(st *store.Store, p *Package, signer *keys.PrivateKey) string {
	exe := store.BinaryStamp()
	if exe == "" {
		return ""
	}
	b, err := json.Marshal(struct {
		Cell, Manifest, RootDigest, Signer, SignerName string
		Source, Plugin                                 lock.Input
		Toolchain                                      []lock.Input
	}{p.Cell, p.ManifestSHA256, p.RootDigest, signer.ID(), signer.Name(), p.Source, p.Plugin, p.Toolchain})
	if err != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "evidence-memo-1\n%s\n%s", exe, b)
	return filepath.Join(st.Dir(), "memo", "evidence", hex.EncodeToString(h.Sum(nil)))
}

// republish links the documents memo names beside p when they and the
// package they describe are in the store (hash-checked): a cache hit of a
// build gets its evidence without reading the package again.
func republish(st *store.Store, p *Package, memo string) (sbomPath, provPath string, ok bool) {
	if memo == "" {
		return "", "", false
	}
	b, err := os.ReadFile(memo)
	f := strings.Fields(string(b))
	if err != nil || len(f) != 3 || !st.Has(f[0]) || !st.Has(f[1]) || !st.Has(f[2]) {
		return "", "", false
	}
	sbomPath, provPath = docPath(p, SBOMSuffix), docPath(p, ProvenanceSuffix)
	if build.LinkOrCopy(st.Path(f[0]), sbomPath) != nil || build.LinkOrCopy(st.Path(f[1]), provPath) != nil {
		return "", "", false
	}
	return sbomPath, provPath, true
}

// WriteVSA writes the signed verification summary of a package whose
// rebuild matched bit for bit, beside the package.
func WriteVSA(ctx context.Context, st *store.Store, p *Package, signer *keys.PrivateKey, rebuilt string) (string, error) {
	if err := p.decode(); err != nil {
		return "", err
	}
	if rebuilt != p.Manifest.Package {
		return "", fmt.Errorf("evidence: %s: the rebuild gave sha256 %s, not %s: no verification summary for a mismatch", p.Cell, rebuilt, p.Manifest.Package)
	}
	prov, err := os.ReadFile(docPath(p, ProvenanceSuffix))
	if err != nil {
		return "", fmt.Errorf("evidence: %s: the verification summary refers to the provenance: %w", p.Cell, err)
	}
	s, err := VSA(p, signer, prov)
	if err != nil {
		return "", err
	}
	env, err := Sign(s, signer)
	if err != nil {
		return "", err
	}
	path, _, err := publish(ctx, st, p, VSASuffix, env)
	return path, err
}

func docPath(p *Package, suffix string) string {
	return strings.TrimSuffix(p.PackagePath, ".tar.zst") + suffix
}

// publish stores b in the CAS and links it beside the package.
func publish(ctx context.Context, st *store.Store, p *Package, suffix string, b []byte) (path, sha string, err error) {
	w, err := st.Create(ctx, "", 0)
	if err != nil {
		return "", "", err
	}
	if _, err := w.Write(b); err != nil {
		w.Discard()
		return "", "", err
	}
	sha, _, err = w.Commit()
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", "", err
	}
	path = docPath(p, suffix)
	if err := build.LinkOrCopy(st.Path(sha), path); err != nil {
		return "", "", err
	}
	return path, sha, nil
}

// file is one regular file of a package with the digests SPDX asks for.
type file struct {
	path   string
	sha1   string
	sha256 string
}

// packageFiles reads the package and hashes its regular files, checking
// each against the manifest: evidence describes the bytes, not a claim.
func packageFiles(ctx context.Context, p *Package) ([]file, error) {
	f, err := os.Open(p.PackagePath)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	defer f.Close()
	whole := sha256.New()
	zr, err := archive.Decompress(".zst", io.TeeReader(f, whole))
	if err != nil {
		return nil, fmt.Errorf("evidence: %s: %w", p.PackagePath, err)
	}
	defer zr.Close()
	want := map[string]string{}
	for _, e := range p.Manifest.Files {
		if e.Type == "file" {
			want[e.Path] = e.SHA256
		}
	}
	var files []file
	tr := tar.NewReader(zr)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("evidence: %s: %w", p.PackagePath, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		s1, s256 := sha1.New(), sha256.New()
		if _, err := io.Copy(io.MultiWriter(s1, s256), tr); err != nil {
			return nil, fmt.Errorf("evidence: %s: %w", p.PackagePath, err)
		}
		fl := file{path: h.Name, sha1: hex.EncodeToString(s1.Sum(nil)), sha256: hex.EncodeToString(s256.Sum(nil))}
		if want[fl.path] != fl.sha256 {
			return nil, fmt.Errorf("evidence: %s: %s has sha256 %s but %s says %q", p.PackagePath, fl.path, fl.sha256, p.ManifestPath, want[fl.path])
		}
		delete(want, fl.path)
		files = append(files, fl)
	}
	io.Copy(io.Discard, f)
	if got := hex.EncodeToString(whole.Sum(nil)); got != p.Manifest.Package {
		return nil, fmt.Errorf("evidence: %s has sha256 %s but %s says %s", p.PackagePath, got, p.ManifestPath, p.Manifest.Package)
	}
	for path := range want {
		return nil, fmt.Errorf("evidence: %s lists %s, which %s does not hold", p.ManifestPath, path, p.PackagePath)
	}
	return files, nil
}

// packageName is the file name a document's subject is known by.
func packageName(p *Package) string { return filepath.Base(p.Cell) + ".tar.zst" }
