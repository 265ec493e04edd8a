package toolchains

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/debarchive"
	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"
)

// DefaultBaseURL and DefaultSuite are the archive this project resolves
// against by default. Users with internet access pin a snapshot instead,
// e.g. https://snapshot.debian.org/archive/debian/20250101T000000Z/.
const (
	DefaultBaseURL = "https://deb.debian.org/debian"
	DefaultSuite   = "bookworm"
)

// maxIndexBytes bounds any single index file, compressed or not.
const maxIndexBytes = 1 << 30

// Source names the part of a Debian archive an Index covers.
type Source struct {
	BaseURL    string   // archive root, e.g. "https://deb.debian.org/debian"
	Suite      string   // e.g. "bookworm"
	Components []string // e.g. ["main"]
	Arches     []string // e.g. ["amd64", "arm64"]; "all" packages are always included
	// Keyring holds the keys trusted to sign the suite's Release file; nil
	// means Debian 12's archive keys (debarchive.Debian12Keys).
	Keyring *debarchive.Keyring
}

func (s Source) distsURL() string {
	return strings.TrimSuffix(s.BaseURL, "/") + "/dists/" + s.Suite + "/"
}

func (s Source) keyring() (*debarchive.Keyring, error) {
	if s.Keyring != nil {
		return s.Keyring, nil
	}
	return defaultKeyring()
}

var defaultKeyring = sync.OnceValues(func() (*debarchive.Keyring, error) {
	return debarchive.DebianKeyring().Select(debarchive.Debian12Keys)
})

// IndexFile is one verified file of an archive index.
type IndexFile struct {
	// Path is relative to dists/<suite>/: "InRelease", "Release",
	// "Release.gpg" or "main/binary-amd64/Packages.xz" (the file the archive
	// serves, pinned by the digest the signed Release lists for it).
	Path   string
	URL    string // where it was read, for the lock's hints
	SHA256 string // hex
	Size   int64
	Arch   string // set for Packages files
	// Data are the pinned bytes when they were read (nil when only the
	// Release file's digest of them is known), to keep in a store.
	Data []byte
}

// Index is a parsed, verified Packages index of one suite.
type Index struct {
	Source Source
	// Release is the InRelease or Release file the Packages files were
	// verified against; its digest pins the whole index.
	Release IndexFile
	// Signature is Release.gpg when the archive has no InRelease.
	Signature *IndexFile
	// Packages are the verified Packages files, sorted by Path.
	Packages []IndexFile
	// Verified is the signed content of Release: who signed it, and the
	// digests it lists.
	Verified *debarchive.Release

	byName   map[string][]*entry    // real packages, by name
	provides map[string][]providing // virtual names, by provided name
}

// entry is one stanza of a Packages file.
type entry struct {
	Package
	from       string // the Packages file listing it, e.g. "main/binary-amd64/Packages.xz"
	ver        version.Version
	priority   string
	essential  bool
	depends    string
	preDepends string
	providesF  string
}

type providing struct {
	e       *entry
	version string // "" when the Provides is unversioned
}

// packagesExts are the compressions tried for a Packages file, best first.
var packagesExts = []string{".xz", ".gz", ""}

// FetchIndex downloads dists/<suite>/InRelease (or Release and
// Release.gpg), verifies its OpenPGP signature against src's keyring, and
// downloads the Packages file of every component and architecture of src,
// verifying each against the sha256 and size the signed Release lists.
func FetchIndex(ctx context.Context, client *http.Client, src Source) (*Index, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if err := src.check(); err != nil {
		return nil, err
	}
	base := src.distsURL()
	files := map[string][]byte{}
	rel, err := httpGet(ctx, client, base+"InRelease")
	switch {
	case err == nil:
		files["InRelease"] = rel
	case errors.Is(err, errNotFound):
		if files["Release"], err = httpGet(ctx, client, base+"Release"); err != nil {
			return nil, err
		}
		if files["Release.gpg"], err = httpGet(ctx, client, base+"Release.gpg"); err != nil {
			return nil, fmt.Errorf("%w (the archive has no InRelease, so its Release must come with a signature)", err)
		}
	default:
		return nil, err
	}
	idx, err := newVerifiedIndex(src, files, base)
	if err != nil {
		return nil, err
	}
	for _, comp := range src.Components {
		for _, arch := range src.Arches {
			plain := comp + "/binary-" + arch + "/Packages"
			found := false
			for _, ext := range packagesExts {
				if _, ok := idx.Verified.Files[plain+ext]; !ok {
					continue
				}
				raw, err := httpGet(ctx, client, base+plain+ext)
				if err != nil {
					return nil, err
				}
				if err := idx.addPinned(plain+ext, arch, raw); err != nil {
					return nil, err
				}
				found = true
				break
			}
			if !found {
				return nil, fmt.Errorf("toolchains: %s%s lists no %s[.xz|.gz]", base, idx.Release.Path, plain)
			}
		}
	}
	idx.finish()
	return idx, nil
}

// LoadPinned builds the index of src from pinned files already at hand
// (from a store): files maps paths under dists/<suite>/ ("InRelease", or
// "Release" and "Release.gpg"; "main/binary-amd64/Packages.xz", ...) to
// their bytes. The Release signature and every Packages file are verified
// as FetchIndex does; a component or arch without a Packages file is an error.
func LoadPinned(src Source, files map[string][]byte) (*Index, error) {
	if err := src.check(); err != nil {
		return nil, err
	}
	idx, err := newVerifiedIndex(src, files, src.distsURL())
	if err != nil {
		return nil, err
	}
	for _, comp := range src.Components {
		for _, arch := range src.Arches {
			plain := comp + "/binary-" + arch + "/Packages"
			found := false
			for _, ext := range packagesExts {
				if raw, ok := files[plain+ext]; ok {
					if err := idx.addPinned(plain+ext, arch, raw); err != nil {
						return nil, err
					}
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("toolchains: no %s%s[.xz|.gz] at hand", src.distsURL(), plain)
			}
		}
	}
	idx.finish()
	return idx, nil
}

// newVerifiedIndex verifies the Release file in files (InRelease, or
// Release with Release.gpg) and starts an index pinned to it.
func newVerifiedIndex(src Source, files map[string][]byte, base string) (*Index, error) {
	kr, err := src.keyring()
	if err != nil {
		return nil, fmt.Errorf("toolchains: keyring: %w", err)
	}
	var rel *debarchive.Release
	var pin IndexFile
	var sig *IndexFile
	if b, ok := files["InRelease"]; ok {
		pin = IndexFile{Path: "InRelease", Data: b}
		rel, err = debarchive.VerifyInRelease(b, kr)
	} else if b, ok := files["Release"]; ok {
		s, ok := files["Release.gpg"]
		if !ok {
			return nil, fmt.Errorf("toolchains: %sRelease: no Release.gpg signature", base)
		}
		pin = IndexFile{Path: "Release", Data: b}
		sig = &IndexFile{Path: "Release.gpg", URL: base + "Release.gpg", SHA256: sha256Hex(s), Size: int64(len(s)), Data: s}
		rel, err = debarchive.VerifyDetached(b, s, kr)
	} else {
		return nil, fmt.Errorf("toolchains: %s: neither InRelease nor Release found", base)
	}
	if err != nil {
		return nil, fmt.Errorf("toolchains: %s%s: %w", base, pin.Path, err)
	}
	if err := rel.CheckSuite(src.Suite); err != nil {
		return nil, fmt.Errorf("toolchains: %s%s: %w", base, pin.Path, err)
	}
	pin.URL, pin.SHA256, pin.Size = src.distsURL()+pin.Path, sha256Hex(pin.Data), int64(len(pin.Data))
	idx := newIndex(src, pin)
	idx.Signature, idx.Verified = sig, rel
	return idx, nil
}

// addPinned verifies raw as the Release's file path (a possibly compressed
// Packages file), pins it and parses it.
func (idx *Index) addPinned(path, arch string, raw []byte) error {
	url := idx.Source.distsURL() + path
	if err := idx.Verified.Check(path, raw); err != nil {
		return fmt.Errorf("toolchains: %s: %w", url, err)
	}
	data, err := decompress(path[strings.LastIndex(path, "/Packages")+len("/Packages"):], bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("toolchains: %s: %w", url, err)
	}
	pin := IndexFile{Path: path, URL: url, SHA256: sha256Hex(raw), Size: int64(len(raw)), Arch: arch, Data: raw}
	return idx.add(pin, data)
}

// LoadAptLists reads the index of src from apt's list directory (normally
// /var/lib/apt/lists, after `apt-get update` with a matching sources entry),
// verifying the InRelease (or Release and Release.gpg) signature there and
// the Packages files against it. Lists may be plain or compressed with lz4,
// gz, xz or zst.
func LoadAptLists(dir string, src Source) (*Index, error) {
	if err := src.check(); err != nil {
		return nil, err
	}
	prefix := filepath.Join(dir, aptListPrefix(src.distsURL()))
	files := map[string][]byte{}
	for _, name := range []string{"InRelease", "Release", "Release.gpg"} {
		b, err := os.ReadFile(prefix + name)
		if err == nil {
			files[name] = b
			if name == "InRelease" {
				break
			}
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("toolchains: %w", err)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("toolchains: no %sInRelease or Release in %s (run apt-get update with a sources entry for %s %s)", aptListPrefix(src.distsURL()), dir, src.BaseURL, src.Suite)
	}
	idx, err := newVerifiedIndex(src, files, prefix)
	if err != nil {
		return nil, err
	}
	for _, comp := range src.Components {
		for _, arch := range src.Arches {
			plain := comp + "/binary-" + arch + "/Packages"
			base := prefix + strings.ReplaceAll(plain, "/", "_")
			var data []byte
			found := ""
			for _, ext := range []string{"", ".lz4", ".gz", ".xz", ".zst"} {
				f, err := os.Open(base + ext)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("toolchains: %w", err)
				}
				data, err = decompress(ext, f)
				f.Close()
				if err != nil {
					return nil, fmt.Errorf("toolchains: %s: %w", base+ext, err)
				}
				found = base + ext
				break
			}
			if found == "" {
				hint := ""
				if arch != "amd64" {
					hint = fmt.Sprintf("; for a foreign arch run `dpkg --add-architecture %s && apt-get update`", arch)
				}
				return nil, fmt.Errorf("toolchains: no apt list %s[.lz4|.gz|.xz|.zst]%s", base, hint)
			}
			// apt keeps the uncompressed bytes: check them against the
			// Release, and pin the compressed file the archive serves (by
			// the Release's digest of it) so the lock's URL yields it.
			if err := idx.Verified.Check(plain, data); err != nil {
				return nil, fmt.Errorf("toolchains: apt list %s (uncompressed): %w", found, err)
			}
			pin := IndexFile{Path: plain, URL: src.distsURL() + plain, SHA256: sha256Hex(data), Size: int64(len(data)), Arch: arch}
			for _, ext := range []string{".xz", ".gz"} {
				if f, ok := idx.Verified.Files[plain+ext]; ok {
					pin = IndexFile{Path: plain + ext, URL: src.distsURL() + plain + ext, SHA256: f.SHA256, Size: f.Size, Arch: arch}
					break
				}
			}
			if err := idx.add(pin, data); err != nil {
				return nil, fmt.Errorf("%w (list %s)", err, found)
			}
		}
	}
	idx.finish()
	return idx, nil
}

// aptListPrefix mangles a URL the way apt names its list files:
// scheme dropped, "_" escaped as %5f, "/" turned into "_".
func aptListPrefix(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.Index(u, "@"); i >= 0 && i < strings.Index(u+"/", "/") {
		u = u[i+1:]
	}
	u = strings.ReplaceAll(u, "_", "%5f")
	return strings.ReplaceAll(u, "/", "_")
}

func (s Source) check() error {
	switch {
	case s.BaseURL == "":
		return errors.New("toolchains: source: empty archive base URL")
	case s.Suite == "":
		return errors.New("toolchains: source: empty suite")
	case len(s.Components) == 0:
		return errors.New("toolchains: source: no components")
	case len(s.Arches) == 0:
		return errors.New("toolchains: source: no architectures")
	}
	return nil
}

func newIndex(src Source, rel IndexFile) *Index {
	return &Index{
		Source:   src,
		Release:  rel,
		byName:   map[string][]*entry{},
		provides: map[string][]providing{},
	}
}

// add records pin and parses data, the uncompressed Packages file it holds.
func (idx *Index) add(pin IndexFile, data []byte) error {
	url := pin.URL
	idx.Packages = append(idx.Packages, pin)
	pool := strings.TrimSuffix(idx.Source.BaseURL, "/") + "/"
	r, err := control.NewParagraphReader(bytes.NewReader(data), nil)
	if err != nil {
		return fmt.Errorf("toolchains: %s: %w", url, err)
	}
	for n := 1; ; n++ {
		p, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("toolchains: %s: stanza %d: %w", url, n, err)
		}
		e, err := parseEntry(p.Values, pool)
		if err != nil {
			return fmt.Errorf("toolchains: %s: stanza %d: %w", url, n, err)
		}
		e.from = pin.Path
		idx.insert(e)
	}
}

func parseEntry(v map[string]string, pool string) (*entry, error) {
	e := &entry{Package: Package{
		Name:      v["Package"],
		Version:   v["Version"],
		Arch:      v["Architecture"],
		MultiArch: v["Multi-Arch"],
		Filename:  v["Filename"],
		SHA256:    v["SHA256"],
		Source:    v["Source"],
	}}
	if e.Name == "" || e.Version == "" || e.Arch == "" {
		return nil, fmt.Errorf("missing Package, Version or Architecture (Package %q)", e.Name)
	}
	var err error
	if e.ver, err = version.Parse(e.Version); err != nil {
		return nil, fmt.Errorf("package %s: Version %q: %w", e.Name, e.Version, err)
	}
	if s := v["Size"]; s != "" {
		if e.Size, err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("package %s: Size %q: %w", e.Name, s, err)
		}
	}
	if e.Filename != "" {
		e.URL = pool + e.Filename
	}
	if e.Source == "" {
		e.Source = e.Name
	} else if i := strings.IndexByte(e.Source, ' '); i > 0 {
		e.Source = e.Source[:i] // "gcc-12 (12.2.0-14)"
	}
	e.priority = v["Priority"]
	e.essential = v["Essential"] == "yes"
	e.depends = v["Depends"]
	e.preDepends = v["Pre-Depends"]
	e.providesF = v["Provides"]
	return e, nil
}

func (idx *Index) insert(e *entry) {
	for _, o := range idx.byName[e.Name] {
		if o.Arch == e.Arch && o.Version == e.Version {
			return // same package listed twice (e.g. two components)
		}
	}
	idx.byName[e.Name] = append(idx.byName[e.Name], e)
	if e.providesF == "" {
		return
	}
	for _, part := range strings.Split(e.providesF, ",") {
		part = strings.TrimSpace(part)
		name, ver := part, ""
		if i := strings.IndexByte(part, '('); i >= 0 {
			name = strings.TrimSpace(part[:i])
			ver = strings.Trim(strings.TrimSpace(part[i+1:]), ")")
			ver = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(ver), "="))
		}
		if name != "" {
			idx.provides[name] = append(idx.provides[name], providing{e: e, version: ver})
		}
	}
}

// finish sorts candidates so lookups are deterministic: highest version
// first, then by arch.
func (idx *Index) finish() {
	slices.SortFunc(idx.Packages, func(a, b IndexFile) int { return strings.Compare(a.Path, b.Path) })
	for _, es := range idx.byName {
		slices.SortStableFunc(es, func(a, b *entry) int {
			if c := version.Compare(b.ver, a.ver); c != 0 {
				return c
			}
			return strings.Compare(a.Arch, b.Arch)
		})
	}
	for _, ps := range idx.provides {
		slices.SortStableFunc(ps, func(a, b providing) int {
			if c := strings.Compare(a.e.Name, b.e.Name); c != 0 {
				return c
			}
			if c := version.Compare(b.e.ver, a.e.ver); c != 0 {
				return c
			}
			return strings.Compare(a.e.Arch, b.e.Arch)
		})
	}
}

// Lookup returns every version and arch of the real package name in the
// index, highest version first.
func (idx *Index) Lookup(name string) []Package {
	var out []Package
	for _, e := range idx.byName[name] {
		out = append(out, e.Package)
	}
	return out
}

// Origin is the path (under dists/<suite>/) of the Packages file listing
// the package name:arch=version, or "".
func (idx *Index) Origin(name, arch, version string) string {
	for _, e := range idx.byName[name] {
		if e.Arch == arch && e.Version == version {
			return e.from
		}
	}
	return ""
}

// Len is the number of package stanzas in the index.
func (idx *Index) Len() int {
	n := 0
	for _, es := range idx.byName {
		n += len(es)
	}
	return n
}

var errNotFound = errors.New("not found")

func httpGet(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("toolchains: GET %s: %w", url, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("toolchains: GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexBytes+1))
	if err != nil {
		return nil, fmt.Errorf("toolchains: GET %s: %w", url, err)
	}
	if len(b) > maxIndexBytes {
		return nil, fmt.Errorf("toolchains: GET %s: larger than %d bytes", url, maxIndexBytes)
	}
	return b, nil
}

// decompress reads r fully, decoding by file extension ("" is plain).
func decompress(ext string, r io.Reader) ([]byte, error) {
	dr, err := archive.Decompress(ext, r)
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	b, err := io.ReadAll(io.LimitReader(dr, maxIndexBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", ext, err)
	}
	if len(b) > maxIndexBytes {
		return nil, fmt.Errorf("decompressed larger than %d bytes", maxIndexBytes)
	}
	return b, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
