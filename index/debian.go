package index

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"

	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
)

// Debian reads one suite's signed Sources index: InRelease is verified
// against Keyring (debarchive), Sources against the digest the Release
// lists, and the .orig.tar.* files of postgresql-NN source packages become
// tarball releases with the sha256 and size Debian recorded. No tarball is
// downloaded.
type Debian struct {
	Archive    string // e.g. https://deb.debian.org/debian
	Suite      string
	Components []string // default: main
	Keyring    *debarchive.Keyring
	Client     *http.Client
	// Catalog, if set, also collects the suite's Postgres extension source
	// packages during Crawl (one read of Sources serves both).
	Catalog *CatalogCrawl
}

func (d Debian) Name() string { return "debian " + d.Suite }

// SourcePackage is one stanza of a Sources index.
type SourcePackage struct {
	Package, Version, Directory, Homepage string
	Binary                                []string
	// BuildDepends joins Build-Depends and Build-Depends-Arch.
	BuildDepends string
	Files        []SourceFile
}

// SourceFile is one Checksums-Sha256 line of a source package.
type SourceFile struct {
	Name, SHA256 string
	Size         int64
}

// Sources fetches and verifies the suite's Sources indexes and returns the
// source packages for which want (if set) is true, with the verified Release.
func (d Debian) Sources(ctx context.Context, want func(pkg string) bool) ([]SourcePackage, *debarchive.Release, error) {
	return d.sources(ctx, func(p *SourcePackage) bool { return want == nil || want(p.Package) })
}

// sources is Sources keeping the stanzas keep accepts.
func (d Debian) sources(ctx context.Context, keep func(*SourcePackage) bool) ([]SourcePackage, *debarchive.Release, error) {
	client := clientOr(d.Client)
	dists := strings.TrimSuffix(d.Archive, "/") + "/dists/" + d.Suite + "/"
	inrel, err := get(ctx, client, dists+"InRelease")
	if err != nil {
		return nil, nil, err
	}
	kr := d.Keyring
	if kr == nil {
		if kr, err = debarchive.DebianKeyring().Select(debarchive.Debian12Keys); err != nil {
			return nil, nil, err
		}
	}
	rel, err := debarchive.VerifyInRelease(inrel, kr)
	if err != nil {
		return nil, nil, fmt.Errorf("%sInRelease: %w", dists, err)
	}
	if err := rel.CheckSuite(d.Suite); err != nil {
		return nil, nil, fmt.Errorf("%sInRelease: %w", dists, err)
	}
	comps := d.Components
	if len(comps) == 0 {
		comps = []string{"main"}
	}
	var out []SourcePackage
	for _, comp := range comps {
		path, ext := "", ""
		for _, e := range []string{".xz", ".gz", ""} {
			if _, ok := rel.Files[comp+"/source/Sources"+e]; ok {
				path, ext = comp+"/source/Sources"+e, e
				break
			}
		}
		if path == "" {
			return nil, nil, fmt.Errorf("%sInRelease lists no %s/source/Sources index", dists, comp)
		}
		data, err := get(ctx, client, dists+path)
		if err != nil {
			return nil, nil, err
		}
		if err := rel.Check(path, data); err != nil {
			return nil, nil, fmt.Errorf("%s%s: %w", dists, path, err)
		}
		r, err := archive.Decompress(ext, bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s%s: %w", dists, path, err)
		}
		pkgs, err := readSources(r, keep)
		r.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s%s: %w", dists, path, err)
		}
		out = append(out, pkgs...)
	}
	return out, rel, nil
}

// ReadSources parses a Sources index, keeping the stanzas want accepts.
func ReadSources(r io.Reader, want func(pkg string) bool) ([]SourcePackage, error) {
	return readSources(r, func(p *SourcePackage) bool { return want == nil || want(p.Package) })
}

func readSources(r io.Reader, keep func(*SourcePackage) bool) ([]SourcePackage, error) {
	pr, err := control.NewParagraphReader(r, nil)
	if err != nil {
		return nil, err
	}
	var out []SourcePackage
	for n := 1; ; n++ {
		p, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("stanza %d: %w", n, err)
		}
		v := p.Values
		sp := SourcePackage{Package: v["Package"], Version: v["Version"], Directory: v["Directory"], Homepage: v["Homepage"], BuildDepends: v["Build-Depends"]}
		if a := v["Build-Depends-Arch"]; a != "" {
			sp.BuildDepends = strings.TrimSuffix(strings.TrimSpace(sp.BuildDepends), ",") + ", " + a
		}
		for _, b := range strings.Split(v["Binary"], ",") {
			if b = strings.TrimSpace(b); b != "" {
				sp.Binary = append(sp.Binary, b)
			}
		}
		if !keep(&sp) {
			continue
		}
		for _, line := range strings.Split(v["Checksums-Sha256"], "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			size, err := strconv.ParseInt(f[1%len(f)], 10, 64)
			if len(f) != 3 || err != nil || len(f[0]) != 64 {
				return nil, fmt.Errorf("stanza %d (%s): Checksums-Sha256 line %q: want SHA256 SIZE NAME", n, sp.Package, line)
			}
			sp.Files = append(sp.Files, SourceFile{Name: f[2], SHA256: f[0], Size: size})
		}
		out = append(out, sp)
	}
}

var (
	postgresSource = regexp.MustCompile(`^postgresql-(\d+)$`)
	origTarball    = regexp.MustCompile(`^postgresql-(\d+)_(\d+\.\d+)\.orig\.tar\.bz2$`)
)

// Crawl returns the Postgres release tarballs of the suite. When several
// Debian revisions ship one upstream version, the apt hint names the newest.
func (d Debian) Crawl(ctx context.Context) ([]Found, error) {
	pkgs, rel, err := d.sources(ctx, func(p *SourcePackage) bool {
		return postgresSource.MatchString(p.Package) || d.Catalog != nil && IsExtensionSource(p)
	})
	if err != nil {
		return nil, err
	}
	if d.Catalog != nil {
		pkgs = d.Catalog.add(d, rel, pkgs)
	}
	slices.SortFunc(pkgs, func(a, b SourcePackage) int {
		va, _ := version.Parse(a.Version)
		vb, _ := version.Parse(b.Version)
		return version.Compare(vb, va) // newest first
	})
	origin := "debian " + d.Suite + " Sources (signed by " + rel.Signer + ")"
	seen := map[string]bool{}
	var out []Found
	for _, p := range pkgs {
		for _, f := range p.Files {
			m := origTarball.FindStringSubmatch(f.Name)
			if m == nil || "postgresql-"+m[1] != p.Package || seen[m[2]] {
				continue
			}
			v, err := manifest.ParseVersion(m[2])
			if err != nil || v.MajorString() != m[1] {
				continue
			}
			seen[m[2]] = true
			out = append(out, Found{Origin: origin, Release: manifest.Release{
				Version: v.String(), Source: "tarball", SHA256: manifest.SHA256(f.SHA256), Size: f.Size,
				Apt: "source:" + p.Package + "=" + p.Version + ":" + f.Name,
			}})
		}
	}
	return out, nil
}
