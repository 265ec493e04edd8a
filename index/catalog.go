package index

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/lock"
)

// CatalogCrawl collects the Postgres extension source packages of the
// Debian suites crawled with it (Debian.Catalog), for Build.
type CatalogCrawl struct {
	mu     sync.Mutex
	suites []suiteSources
}

type suiteSources struct {
	archive, suite, origin string
	pkgs                   []SourcePackage
}

var pgBinary = regexp.MustCompile(`^postgresql-(\d+)-`)

// IsExtensionSource reports whether a source package builds a Postgres
// extension: one of its binary packages is postgresql-NN-* (the Postgres
// source packages postgresql-NN themselves are not).
func IsExtensionSource(p *SourcePackage) bool {
	if postgresSource.MatchString(p.Package) {
		return false
	}
	return slices.ContainsFunc(p.Binary, pgBinary.MatchString)
}

// add keeps the suite's extension packages and returns the others.
func (c *CatalogCrawl) add(d Debian, rel *debarchive.Release, pkgs []SourcePackage) []SourcePackage {
	var ext, rest []SourcePackage
	for _, p := range pkgs {
		if IsExtensionSource(&p) {
			ext = append(ext, p)
		} else {
			rest = append(rest, p)
		}
	}
	c.mu.Lock()
	c.suites = append(c.suites, suiteSources{strings.TrimSuffix(d.Archive, "/"), d.Suite, "debian " + d.Suite + " Sources (signed by " + rel.Signer + ")", ext})
	c.mu.Unlock()
	return rest
}

// CatalogOptions say how Build completes the entries.
type CatalogOptions struct {
	// Fetcher downloads each version's orig tarball into its store (nil:
	// nothing is downloaded; tarball facts are kept from Old).
	Fetcher *fetch.Fetcher
	// Known reports whether the toolchain suite has a package (nil: every
	// Build-Depends is kept).
	Known func(name string) bool
	// Base are the toolchain's packages every root has; Build-Depends
	// naming them are left out.
	Base []string
	// Only, if set, limits the catalog to these source packages.
	Only []string
	// Old is the catalog pinned so far (nil: none).
	Old *manifest.Catalog
	// Jobs bounds parallel downloads (default 4).
	Jobs int
}

// CatalogConflict is a version whose Debian sha256 differs from the pin.
type CatalogConflict struct {
	Name, Version  string
	Pinned, Found  manifest.SHA256
	PinnedOrigin   string
	Origin         string
	PinnedTarballs string
}

func (c CatalogConflict) String() string {
	return fmt.Sprintf("extension %s %s: %s says sha256 %s, but %s pins %s (%s)", c.Name, c.Version, c.Origin, c.Found, manifest.CatalogFileName, c.Pinned, c.PinnedOrigin)
}

// CatalogResult is a built catalog merged with the pinned one.
type CatalogResult struct {
	Catalog   manifest.Catalog
	New       []string // "name version" not pinned before
	Conflicts []CatalogConflict
}

// Build turns the collected source packages into catalog entries merged
// with opts.Old: versions keep their pinned sha256 (a different one from
// Debian is a conflict, never written); with a Fetcher every version's
// tarball is downloaded into the store (a stat when it is there) and read
// for its strip_prefix, build kind, control files and REGRESS; a download
// that fails marks the version unfetchable with the reason.
func (c *CatalogCrawl) Build(ctx context.Context, opts CatalogOptions) (*CatalogResult, error) {
	type key struct{ name, version string }
	entries := map[string]*manifest.CatalogEntry{}
	at := map[key]*manifest.CatalogVersion{}
	debVer := map[key]version.Version{}
	c.mu.Lock()
	suites := slices.Clone(c.suites)
	c.mu.Unlock()
	for _, s := range suites {
		for _, p := range s.pkgs {
			if len(opts.Only) > 0 && !slices.Contains(opts.Only, p.Package) {
				continue
			}
			dv, err := version.Parse(p.Version)
			if err != nil {
				continue
			}
			orig, ok := origFile(p, dv)
			if !ok {
				continue
			}
			name := catalogName(p.Package)
			e := entries[name]
			if e == nil {
				e = &manifest.CatalogEntry{Name: name, SourcePackage: p.Package}
				entries[name] = e
			}
			if e.Homepage == "" {
				e.Homepage = p.Homepage
			}
			up := strings.ReplaceAll(dv.Version, "~", "-")
			k := key{name, up}
			v := at[k]
			if v == nil {
				e.Versions = append(e.Versions, manifest.CatalogVersion{Version: up})
				v = &e.Versions[len(e.Versions)-1]
				v.SHA256, v.Size, v.Origin = manifest.SHA256(orig.SHA256), orig.Size, s.origin
				v.URL = s.archive + "/" + p.Directory + "/" + orig.Name
				// Pointers into e.Versions move when it grows: re-point.
				for i := range e.Versions {
					at[key{name, e.Versions[i].Version}] = &e.Versions[i]
				}
				v = at[k]
			}
			if v.SHA256 != manifest.SHA256(orig.SHA256) {
				return nil, fmt.Errorf("index: extension %s %s: %s lists sha256 %s, %s lists %s", name, up, v.Origin, v.SHA256, s.origin, orig.SHA256)
			}
			v.Suites = append(v.Suites, s.suite)
			for _, b := range p.Binary {
				if m := pgBinary.FindStringSubmatch(b); m != nil {
					n, _ := strconv.Atoi(m[1])
					if !slices.Contains(v.Majors, n) {
						v.Majors = append(v.Majors, n)
					}
				}
			}
			if old, seen := debVer[k]; !seen || version.Compare(dv, old) > 0 {
				debVer[k] = dv
				v.Debian = p.Version
				v.Apt = "source:" + p.Package + "=" + p.Version + ":" + orig.Name
				v.Packages, v.Unmapped = mapBuildDepends(p.BuildDepends, opts.Known, opts.Base)
			}
		}
	}
	res := &CatalogResult{}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		e := entries[name]
		slices.SortFunc(e.Versions, func(a, b manifest.CatalogVersion) int {
			return version.Compare(debVer[key{name, b.Version}], debVer[key{name, a.Version}])
		})
		for i := range e.Versions {
			v := &e.Versions[i]
			slices.Sort(v.Majors)
			slices.Sort(v.Suites)
			v.Postgres = postgresSpec(e.SourcePackage, v.Majors)
			old, ok := oldVersion(opts.Old, name, v.Version)
			switch {
			case ok && old.SHA256 != v.SHA256:
				res.Conflicts = append(res.Conflicts, CatalogConflict{Name: name, Version: v.Version, Pinned: old.SHA256, Found: v.SHA256, PinnedOrigin: old.Origin, Origin: v.Origin})
				*v = old
			case ok: // tarball facts stay until a download reads them again
				v.Fetchable, v.Unfetchable, v.StripPrefix, v.Build, v.Controls, v.Regress = old.Fetchable, old.Unfetchable, old.StripPrefix, old.Build, old.Controls, old.Regress
			default:
				res.New = append(res.New, name+" "+v.Version)
				v.Unfetchable = "not downloaded yet (monogres index update downloads it)"
			}
		}
		res.Catalog.Extensions = append(res.Catalog.Extensions, *e)
	}
	// Pinned entries Debian no longer lists stay: a pin never vanishes.
	if opts.Old != nil {
		for _, oe := range opts.Old.Extensions {
			if len(opts.Only) > 0 && !slices.Contains(opts.Only, oe.SourcePackage) {
				continue
			}
			i := slices.IndexFunc(res.Catalog.Extensions, func(e manifest.CatalogEntry) bool { return e.Name == oe.Name })
			if i < 0 {
				res.Catalog.Extensions = append(res.Catalog.Extensions, oe)
				continue
			}
			for _, ov := range oe.Versions {
				if !slices.ContainsFunc(res.Catalog.Extensions[i].Versions, func(v manifest.CatalogVersion) bool { return v.Version == ov.Version }) {
					res.Catalog.Extensions[i].Versions = append(res.Catalog.Extensions[i].Versions, ov)
				}
			}
		}
		slices.SortFunc(res.Catalog.Extensions, func(a, b manifest.CatalogEntry) int { return cmp.Compare(a.Name, b.Name) })
	}
	if opts.Fetcher != nil {
		readTarballs(ctx, opts, res.Catalog.Extensions)
	}
	return res, nil
}

func oldVersion(c *manifest.Catalog, name, v string) (manifest.CatalogVersion, bool) {
	if c == nil {
		return manifest.CatalogVersion{}, false
	}
	for _, e := range c.Extensions {
		if e.Name == name {
			for _, ov := range e.Versions {
				if ov.Version == v {
					return ov, true
				}
			}
		}
	}
	return manifest.CatalogVersion{}, false
}

// origFile is the source package's upstream tarball: PKG_UPSTREAM.orig.tar.*
// (or PKG_VERSION.tar.* of a native package).
func origFile(p SourcePackage, dv version.Version) (SourceFile, bool) {
	up := dv.Version
	for _, f := range p.Files {
		for _, ext := range []string{".gz", ".xz", ".bz2"} {
			if f.Name == p.Package+"_"+up+".orig.tar"+ext {
				return f, true
			}
		}
	}
	if dv.IsNative() {
		for _, f := range p.Files {
			if strings.HasPrefix(f.Name, p.Package+"_"+up+".tar.") {
				return f, true
			}
		}
	}
	return SourceFile{}, false
}

// catalogName is the name a manifest selects a source package by.
func catalogName(pkg string) string {
	return strings.ReplaceAll(strings.TrimPrefix(pkg, "postgresql-"), "-", "_")
}

var pinnedMajor = regexp.MustCompile(`(?:^postgresql-(\d+)-|-(\d+)$)`)

// postgresSpec is the Postgres spec of a version Debian built for majors:
// exactly the major a package is named after (pgaudit-18,
// postgresql-16-age), else every major up to the newest built for (Debian
// builds a version only for its suite's majors; extensions keep older
// ones, and a manifest's postgres = overrides it).
func postgresSpec(pkg string, majors []int) string {
	if m := pinnedMajor.FindStringSubmatch(pkg); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		if slices.Contains(majors, n) {
			return strconv.Itoa(n) + ".*"
		}
	}
	if len(majors) == 0 {
		return "*"
	}
	return "<" + strconv.Itoa(majors[len(majors)-1]+1)
}

// dropped are Build-Depends no extension root needs: Debian's packaging
// tools, documentation tools, architecture markers, and Postgres itself
// (the parent cell is the Postgres).
var dropped = regexp.MustCompile(`^(debhelper.*|dh-.*|dh|cdbs|quilt|dpkg-dev|build-essential|devscripts|pkg-kde-tools|po-debconf|dctrl-tools|lsb-release|rdfind|chrpath|architecture-is-.*|` +
	`postgresql-server-dev-.*|postgresql-all|postgresql-common.*|postgresql(-\d+)?|postgresql-\d+-.*|postgresql-contrib.*|libpq-dev|libpq5|` +
	`docbook.*|texlive.*|tex-gyre|latexmk|pandoc|doxygen|python3-sphinx.*|python3-myst-parser|python3-recommonmark|fop|xsltproc|openjade|opensp|naturaldocs|imagemagick|librsvg2-bin|libxml2-utils)$`)

// sameAs are Build-Depends a base package already provides.
var sameAs = map[string]string{"pkgconf": "pkg-config", "python3-all": "python3", "python3-all-dev": "python3-dev"}

// mapBuildDepends turns Build-Depends into toolchain packages: for amd64,
// without test-only (<!nocheck>) and doc-only (<!nodoc>) relations, the
// first alternative the toolchain suite has; relations it has none of are
// unmapped.
func mapBuildDepends(bd string, known func(string) bool, base []string) (pkgs, unmapped []string) {
	dep, err := dependency.Parse(bd)
	if err != nil {
		return nil, []string{"Build-Depends: " + err.Error()}
	}
	amd64 := dependency.Arch{CPU: "amd64", OS: "linux", ABI: "gnu"}
	for _, rel := range dep.Relations {
		var cands []string
		skip := false
		for _, p := range rel.Possibilities {
			if p.Substvar || (p.Architectures != nil && len(p.Architectures.Architectures) > 0 && !p.Architectures.Matches(&amd64)) {
				continue
			}
			for _, ss := range p.StageSets {
				for _, st := range ss.Stages {
					if st.Not && (st.Name == "nocheck" || st.Name == "nodoc") {
						skip = true
					}
				}
			}
			if dropped.MatchString(p.Name) || slices.Contains(base, p.Name) || slices.Contains(base, sameAs[p.Name]) {
				skip = true
			}
			cands = append(cands, p.Name)
		}
		if skip || len(cands) == 0 {
			continue
		}
		i := slices.IndexFunc(cands, func(n string) bool { return known == nil || known(n) })
		if i < 0 {
			if !slices.Contains(unmapped, strings.Join(cands, " | ")) {
				unmapped = append(unmapped, strings.Join(cands, " | "))
			}
			continue
		}
		if !slices.Contains(pkgs, cands[i]) {
			pkgs = append(pkgs, cands[i])
		}
	}
	slices.Sort(pkgs)
	return pkgs, unmapped
}

// readTarballs downloads every version's tarball into the store (a stat
// when it is there) and reads it.
func readTarballs(ctx context.Context, opts CatalogOptions, entries []manifest.CatalogEntry) {
	jobs := opts.Jobs
	if jobs < 1 {
		jobs = 4
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := range entries {
		for j := range entries[i].Versions {
			name, v := entries[i].Name, &entries[i].Versions[j]
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				readTarballOf(ctx, opts.Fetcher, name, v)
			})
		}
	}
	wg.Wait()
}

func readTarballOf(ctx context.Context, f *fetch.Fetcher, name string, v *manifest.CatalogVersion) {
	in := lock.Input{Name: plan.ExtensionInputName(name, v.Version), Kind: lock.KindExtension, Version: v.Version, URLs: []string{v.URL}, SHA256: string(v.SHA256), Size: v.Size}
	if err := f.Fetch(ctx, []lock.Input{in}); err != nil {
		v.Fetchable, v.Unfetchable = false, oneLine(err)
		return
	}
	t, err := readTarball(ctx, f.Store.Path(string(v.SHA256)), path.Base(v.URL))
	if err != nil {
		v.Fetchable, v.Unfetchable = false, oneLine(err)
		return
	}
	v.Fetchable, v.Unfetchable = true, ""
	v.StripPrefix, v.Build, v.Controls, v.Regress = t.prefix, string(t.build), t.controls, t.regress
}

// oneLine is an error in one line: a download's last attempt, or the
// first line of another error (a checksum mismatch).
func oneLine(err error) string {
	var nf *fetch.NotFoundError
	if errors.As(err, &nf) && len(nf.Attempts) > 0 {
		return strings.TrimSpace(nf.Attempts[len(nf.Attempts)-1])
	}
	s, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return s
}

// tarball is what Build reads from an extension's source archive.
type tarball struct {
	prefix   string
	build    manifest.BuildKind
	controls []string
	regress  bool
}

var (
	pgxsRef    = regexp.MustCompile(`(?m)^[^#\n]*\bPGXS\b`)
	regressRef = regexp.MustCompile(`(?m)^\s*REGRESS\s*[:+]?=`)
)

// readTarball finds the archive's single top directory (strip_prefix),
// guesses the build kind from the files there (configure: configure+PGXS;
// CMakeLists.txt: cmake; a Makefile naming PGXS: pgxs; another Makefile:
// make) and lists the control files.
func readTarball(ctx context.Context, file, name string) (*tarball, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	top := map[string][]byte{} // files of interest, by path
	err = archive.Walk(ctx, f, name, func(h *tar.Header, r io.Reader) error {
		names = append(names, h.Name)
		base := path.Base(h.Name)
		if h.Typeflag == tar.TypeReg && strings.Count(strings.TrimSuffix(h.Name, "/"), "/") <= 1 &&
			(base == "Makefile" || base == "GNUmakefile" || base == "Makefile.in" || base == "configure" || base == "CMakeLists.txt" || base == "configure.ac") {
			b, err := io.ReadAll(io.LimitReader(r, 1<<20))
			if err != nil {
				return err
			}
			top[h.Name] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := &tarball{}
	if len(names) > 0 {
		first, _, _ := strings.Cut(names[0], "/")
		below := false
		for _, n := range names {
			d, rest, _ := strings.Cut(n, "/")
			if d != first {
				below = false
				break
			}
			below = below || rest != ""
		}
		if below {
			t.prefix = first
		}
	}
	rel := func(n string) string {
		if t.prefix == "" {
			return n
		}
		return strings.TrimPrefix(n, t.prefix+"/")
	}
	has := map[string][]byte{}
	for n, b := range top {
		if r := rel(n); !strings.Contains(r, "/") {
			has[r] = b
		}
	}
	makefile, okMake := has["Makefile"]
	if gm, ok := has["GNUmakefile"]; ok {
		makefile, okMake = gm, true
	}
	_, okConf := has["configure"]
	_, okCMake := has["CMakeLists.txt"]
	switch {
	case okConf:
		t.build = "configure"
	case okMake && pgxsRef.Match(makefile):
		t.build = "pgxs"
	case okCMake:
		t.build = "cmake"
	case okMake:
		t.build = "make"
	}
	if okMake {
		t.regress = regressRef.Match(makefile)
	} else if in, ok := has["Makefile.in"]; ok {
		t.regress = regressRef.Match(in)
	}
	for _, n := range names {
		b := path.Base(n)
		for _, suf := range []string{".control", ".control.in"} {
			if c, ok := strings.CutSuffix(b, suf); ok && c != "" && !slices.Contains(t.controls, c) && !strings.Contains(rel(n), "test") {
				t.controls = append(t.controls, c)
			}
		}
	}
	slices.Sort(t.controls)
	return t, nil
}
