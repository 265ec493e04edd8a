package toolchains

import (
	"bufio"
	"bytes"
	"compress/gzip"
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

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
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
}

func (s Source) distsURL() string {
	return strings.TrimSuffix(s.BaseURL, "/") + "/dists/" + s.Suite + "/"
}

// IndexFile is one verified file of an archive index.
type IndexFile struct {
	// Path is relative to dists/<suite>/: "InRelease", "Release" or
	// "main/binary-amd64/Packages" (always the uncompressed name: the digest
	// is that of the uncompressed bytes, so HTTP and apt lists agree).
	Path   string
	URL    string // where it was read, for the lock's hints
	SHA256 string // hex
	Size   int64
	Arch   string // set for Packages files
}

// Index is a parsed, verified Packages index of one suite.
type Index struct {
	Source Source
	// Release is the InRelease or Release file the Packages files were
	// verified against; its digest pins the whole index.
	Release IndexFile
	// Packages are the verified Packages files, sorted by Path.
	Packages []IndexFile

	byName   map[string][]*entry    // real packages, by name
	provides map[string][]providing // virtual names, by provided name
}

// entry is one stanza of a Packages file.
type entry struct {
	Package
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

// FetchIndex downloads dists/<suite>/InRelease (or Release) and the Packages
// file of every component and architecture of src, verifying each Packages
// file against the sha256 and size the Release file lists.
// The InRelease signature is not checked: the Release digest is what the
// lock pins.
func FetchIndex(ctx context.Context, client *http.Client, src Source) (*Index, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if err := src.check(); err != nil {
		return nil, err
	}
	base := src.distsURL()
	var rel []byte
	var relName string
	var err error
	for _, name := range []string{"InRelease", "Release"} {
		rel, err = httpGet(ctx, client, base+name)
		if err == nil {
			relName = name
			break
		}
		if !errors.Is(err, errNotFound) {
			return nil, err
		}
	}
	if relName == "" {
		return nil, fmt.Errorf("toolchains: %s: neither InRelease nor Release found", base)
	}
	rf, err := parseRelease(rel)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %s%s: %w", base, relName, err)
	}
	idx := newIndex(src, IndexFile{Path: relName, URL: base + relName, SHA256: sha256Hex(rel), Size: int64(len(rel))})
	for _, comp := range src.Components {
		for _, arch := range src.Arches {
			plain := comp + "/binary-" + arch + "/Packages"
			var data []byte
			var url string
			for _, ext := range []string{".xz", ".gz", ""} {
				want, ok := rf[plain+ext]
				if !ok {
					continue
				}
				url = base + plain + ext
				raw, err := httpGet(ctx, client, url)
				if err != nil {
					return nil, err
				}
				if err := want.verify(raw); err != nil {
					return nil, fmt.Errorf("toolchains: %s: %w", url, err)
				}
				data, err = decompress(ext, bytes.NewReader(raw))
				if err != nil {
					return nil, fmt.Errorf("toolchains: %s: %w", url, err)
				}
				break
			}
			if url == "" {
				return nil, fmt.Errorf("toolchains: %s%s lists no %s[.xz|.gz]", base, relName, plain)
			}
			if err := idx.add(plain, url, arch, data, rf); err != nil {
				return nil, err
			}
		}
	}
	idx.finish()
	return idx, nil
}

// LoadAptLists reads the index of src from apt's list directory (normally
// /var/lib/apt/lists, after `apt-get update` with a matching sources entry),
// verifying the Packages files against the InRelease or Release file there.
// Lists may be plain or compressed with lz4, gz, xz or zst.
func LoadAptLists(dir string, src Source) (*Index, error) {
	if err := src.check(); err != nil {
		return nil, err
	}
	prefix := filepath.Join(dir, aptListPrefix(src.distsURL()))
	var rel []byte
	var relPath, relName string
	for _, name := range []string{"InRelease", "Release"} {
		b, err := os.ReadFile(prefix + name)
		if err == nil {
			rel, relPath, relName = b, prefix+name, name
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("toolchains: %w", err)
		}
	}
	if relPath == "" {
		return nil, fmt.Errorf("toolchains: no %sInRelease or Release in %s (run apt-get update with a sources entry for %s %s)", aptListPrefix(src.distsURL()), dir, src.BaseURL, src.Suite)
	}
	rf, err := parseRelease(rel)
	if err != nil {
		return nil, fmt.Errorf("toolchains: %s: %w", relPath, err)
	}
	idx := newIndex(src, IndexFile{Path: relName, URL: src.distsURL() + relName, SHA256: sha256Hex(rel), Size: int64(len(rel))})
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
			if _, ok := rf[plain]; !ok {
				return nil, fmt.Errorf("toolchains: %s does not list %s", relPath, plain)
			}
			if err := idx.add(plain, src.distsURL()+plain, arch, data, rf); err != nil {
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

// add verifies data (an uncompressed Packages file) against the Release
// entry for plain and parses its stanzas.
func (idx *Index) add(plain, url, arch string, data []byte, rf releaseFiles) error {
	if want, ok := rf[plain]; ok {
		if err := want.verify(data); err != nil {
			return fmt.Errorf("toolchains: %s (uncompressed): %w", url, err)
		}
	}
	// Pin the file the archive really serves (Packages.xz; Debian does not
	// serve plain Packages) by the Release file's digest of it, so the lock
	// entry's URL yields exactly the pinned bytes whichever source was read.
	pinned := IndexFile{Path: plain, URL: url, SHA256: sha256Hex(data), Size: int64(len(data)), Arch: arch}
	for _, ext := range []string{".xz", ".gz"} {
		if f, ok := rf[plain+ext]; ok {
			pinned = IndexFile{Path: plain + ext, URL: idx.Source.distsURL() + plain + ext, SHA256: f.sha256, Size: f.size, Arch: arch}
			break
		}
	}
	idx.Packages = append(idx.Packages, pinned)
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

// Len is the number of package stanzas in the index.
func (idx *Index) Len() int {
	n := 0
	for _, es := range idx.byName {
		n += len(es)
	}
	return n
}

// releaseFiles maps a path under dists/<suite>/ to its SHA256 line.
type releaseFiles map[string]releaseFile

type releaseFile struct {
	sha256 string
	size   int64
}

func (f releaseFile) verify(data []byte) error {
	if int64(len(data)) != f.size {
		return fmt.Errorf("size %d, Release file says %d", len(data), f.size)
	}
	if got := sha256Hex(data); got != f.sha256 {
		return fmt.Errorf("sha256 %s, Release file says %s", got, f.sha256)
	}
	return nil
}

// parseRelease reads the SHA256 field of a Release or InRelease file.
func parseRelease(b []byte) (releaseFiles, error) {
	r, err := control.NewParagraphReader(bytes.NewReader(b), nil)
	if err != nil {
		return nil, err
	}
	p, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	field := p.Values["SHA256"]
	if field == "" {
		return nil, errors.New("no SHA256 field")
	}
	out := releaseFiles{}
	sc := bufio.NewScanner(strings.NewReader(field))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("SHA256 line %q: want \"<sha256> <size> <path>\"", sc.Text())
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SHA256 line %q: size: %w", sc.Text(), err)
		}
		out[f[2]] = releaseFile{sha256: strings.ToLower(f[0]), size: size}
	}
	return out, nil
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
	var dr io.Reader
	switch ext {
	case "":
		dr = r
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		dr = z
	case ".xz":
		z, err := xz.NewReader(bufio.NewReader(r))
		if err != nil {
			return nil, err
		}
		dr = z
	case ".zst":
		z, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		dr = z
	case ".lz4":
		dr = lz4.NewReader(r)
	default:
		return nil, fmt.Errorf("unknown compression %q", ext)
	}
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
