package manifest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// releasesJSON is a copy of the project's collected release facts
// (shared/data/postgres-releases.json).
//
//go:embed releases.json
var releasesJSON []byte

// sourceDateEpochs are the newest mtimes of release tarballs monogres
// hashed itself (SOURCE_DATE_EPOCH of builds from them; 0 or missing: derived
// when the tarball is first built).
var sourceDateEpochs = map[string]int64{
	"15.18": 1778529797,
	"18.6":  1786473511,
}

// builtinSources are the default source templates, by the index's source names.
var builtinSources = []Source{
	{
		Name: "tarball",
		URLs: []string{
			"https://ftp.postgresql.org/pub/source/v{version}/postgresql-{version}.tar.bz2",
			"https://deb.debian.org/debian/pool/main/p/postgresql-{major}/postgresql-{major}_{version}.orig.tar.bz2",
		},
		StripPrefix: "postgresql-{version}",
	},
	{
		Name:        "github",
		URLs:        []string{"https://github.com/postgres/postgres/archive/refs/tags/{tag}.tar.gz"},
		StripPrefix: "postgres-{tag}",
	},
}

// builtinOptionSpecs are per-option version constraints; the manifest's
// [options] table overrides them.
var builtinOptionSpecs = map[Option]string{
	"liburing": ">=18.0", // io_uring AIO arrived in Postgres 18
	"libnuma":  ">=18.0",
	"libcurl":  ">=18.0",
}

// Index knows Postgres releases, their sources and digests.
type Index struct {
	// Releases sorted by version; at most one per version (the preferred source).
	Releases []Release
	// Alternatives are other archives of the same version (a GitHub tag
	// archive besides the release tarball): different bytes, so different
	// inputs with their own sha256, declared but not chosen.
	Alternatives map[string][]Release
	Sources      map[string]Source
	// OptionSpecs constrain options to versions.
	OptionSpecs map[Option]Spec
}

// Versions returns every indexed version, ascending.
func (x *Index) Versions() []Version {
	vs := make([]Version, len(x.Releases))
	for i, r := range x.Releases {
		vs[i] = MustVersion(r.Version)
	}
	return vs
}

// Lookup returns the release of version v.
func (x *Index) Lookup(v Version) (Release, bool) {
	i, ok := slices.BinarySearchFunc(x.Releases, v, func(r Release, v Version) int { return MustVersion(r.Version).Compare(v) })
	if !ok {
		return Release{}, false
	}
	return x.Releases[i], true
}

// Newest returns the newest indexed version matching s.
func (x *Index) Newest(s Spec) (Version, bool) {
	for i := len(x.Releases) - 1; i >= 0; i-- {
		if v := MustVersion(x.Releases[i].Version); s.Match(v) {
			return v, true
		}
	}
	return Version{}, false
}

// All returns every indexed version matching s, ascending.
func (x *Index) All(s Spec) []Version {
	var out []Version
	for _, v := range x.Versions() {
		if s.Match(v) {
			out = append(out, v)
		}
	}
	return out
}

// OptionAllowed reports whether option o is available in version v.
func (x *Index) OptionAllowed(o Option, v Version) bool {
	s, ok := x.OptionSpecs[o]
	return !ok || s.Match(v)
}

// Expand fills a source template for a release.
func Expand(tmpl string, v Version, tag, name string) string {
	return strings.NewReplacer(
		"{version}", v.String(),
		"{major}", v.MajorString(),
		"{minor}", strconv.Itoa(v.Minor),
		"{tag}", tag,
		"{name}", name,
	).Replace(tmpl)
}

// builtinIndex decodes the embedded release facts. A version's release
// tarball is preferred over its GitHub tag archive (the tarball is what
// upstream signs off and Debian ships); the tag archive is then an
// alternative.
func builtinIndex() (*Index, error) {
	var raw struct {
		Compat map[string]string `json:"build_option_compat"`
		GitHub map[string]struct {
			SHA256 string `json:"sha256"`
			Tag    string `json:"tag"`
		} `json:"github"`
		Tarball map[string]struct {
			SHA256      string `json:"sha256"`
			Size        int64  `json:"size"`
			DebianOrig  string `json:"debian_orig"`
			DebianSuite string `json:"debian_suite"`
		} `json:"tarball"`
	}
	if err := json.Unmarshal(releasesJSON, &raw); err != nil {
		return nil, fmt.Errorf("built-in release index: %v", err)
	}
	x := &Index{Sources: map[string]Source{}, OptionSpecs: map[Option]Spec{}, Alternatives: map[string][]Release{}}
	for _, s := range builtinSources {
		x.Sources[s.Name] = s
	}
	for v, r := range raw.Tarball {
		apt, err := aptHint(r.DebianSuite, r.DebianOrig)
		if err != nil {
			return nil, fmt.Errorf("built-in release index: tarball %s: %v", v, err)
		}
		x.add(Release{Version: v, Source: "tarball", SHA256: SHA256(r.SHA256), Size: r.Size, Apt: apt, SourceDateEpoch: sourceDateEpochs[v]})
	}
	for v, r := range raw.GitHub {
		x.add(Release{Version: v, Source: "github", SHA256: SHA256(r.SHA256), Tag: r.Tag})
	}
	for o, s := range raw.Compat {
		x.OptionSpecs[Option(o)] = mustSpec(s)
	}
	for o, s := range builtinOptionSpecs {
		x.OptionSpecs[o] = mustSpec(s)
	}
	x.sort()
	return x, nil
}

// aptHint turns the facts' "SUITE (PACKAGE DEBVERSION)" and the Debian file
// name into an Apt artifact, "source:PACKAGE=DEBVERSION:FILE".
func aptHint(suite, file string) (string, error) {
	if suite == "" && file == "" {
		return "", nil
	}
	_, pv, ok := strings.Cut(suite, " (")
	pkg, ver, ok2 := strings.Cut(strings.TrimSuffix(pv, ")"), " ")
	if !ok || !ok2 || file == "" || pkg == "" || ver == "" {
		return "", fmt.Errorf("debian_suite %q / debian_orig %q: want \"SUITE (PACKAGE VERSION)\" and a file name", suite, file)
	}
	return "source:" + pkg + "=" + ver + ":" + file, nil
}

func mustSpec(s string) Spec {
	sp, err := ParseSpec(s)
	if err != nil {
		panic(err)
	}
	return sp
}

// add puts r in the index, replacing the entry of the same version and
// source. Per version the release tarball is chosen over any other source
// (the tarball is what upstream releases and Debian ships); the others are
// alternatives.
func (x *Index) add(r Release) {
	i, found := slices.BinarySearchFunc(x.Releases, MustVersion(r.Version), func(r Release, v Version) int { return MustVersion(r.Version).Compare(v) })
	if !found {
		x.Releases = slices.Insert(x.Releases, i, r)
		return
	}
	cur := x.Releases[i]
	if cur.Source == r.Source {
		x.Releases[i] = r
		return
	}
	alts := slices.DeleteFunc(x.Alternatives[r.Version], func(a Release) bool { return a.Source == r.Source })
	if r.Source == "tarball" {
		x.Releases[i], r = r, cur
	}
	x.Alternatives[r.Version] = append(alts, r)
}

// Pinned returns the indexed release of version v from source (the chosen
// one or an alternative).
func (x *Index) Pinned(v Version, source string) (Release, bool) {
	if r, ok := x.Lookup(v); ok && r.Source == source {
		return r, true
	}
	for _, a := range x.Alternatives[v.String()] {
		if a.Source == source {
			return a, true
		}
	}
	return Release{}, false
}

func (x *Index) sort() {
	slices.SortFunc(x.Releases, func(a, b Release) int { return MustVersion(a.Version).Compare(MustVersion(b.Version)) })
}

// Crawl is the manifest's [index] table: where `monogres index update`
// discovers Postgres releases. Debian suites are read from the toolchain's
// archive unless DebianArchive is set; the toolchain's suite is always read.
type Crawl struct {
	DebianArchive string   `toml:"debian_archive" json:"debian_archive,omitempty"`
	DebianSuites  []string `toml:"debian_suites" json:"debian_suites,omitempty"`
	// Upstream is a directory laid out like
	// https://ftp.postgresql.org/pub/source/ (vX.Y/postgresql-X.Y.tar.bz2
	// and its .sha256).
	Upstream string `toml:"upstream" json:"upstream,omitempty"`
	// Git is a Postgres git repository (path or URL) whose REL_X_Y tags are
	// archived locally as GitHub would.
	Git string `toml:"git" json:"git,omitempty"`
	// Extensions makes `monogres index update` also write the extension
	// catalog (CatalogFileName) from the Debian suites it reads.
	Extensions bool `toml:"extensions" json:"extensions,omitempty"`
	// Postgres limits which versions are indexed (default: all).
	Postgres Spec `toml:"postgres" json:"postgres,omitzero"`
}

// Versions is the [index] postgres spec, nil if unset (all versions).
func (c Crawl) Versions() *Spec {
	if c.Postgres.String() == "" {
		return nil
	}
	return &c.Postgres
}

// IndexFileName is the crawler's output, read from beside the manifest.
const IndexFileName = "monogres.index.json"

// IndexFile is what `monogres index update` writes: releases with the
// digests it read from sources a packager trusts. They add to the built-in
// index and are overridden by the manifest's [[postgres.release]].
type IndexFile struct {
	Postgres []IndexedRelease `json:"postgres"`
}

// IndexedRelease is one crawled release and where its digest was read.
type IndexedRelease struct {
	Release
	Origins []string `json:"origins"`
}

// ReadIndexFile reads an index file; a missing file is an empty index.
func ReadIndexFile(path string) (*IndexFile, error) {
	var f IndexFile
	if err := readJSONFile(path, &f); err != nil {
		return nil, err
	}
	for i, r := range f.Postgres {
		if _, err := ParseVersion(r.Version); err != nil {
			return nil, fmt.Errorf("%s: postgres[%d]: version: %v", path, i, err)
		}
		if err := new(SHA256).UnmarshalText([]byte(r.SHA256)); err != nil {
			return nil, fmt.Errorf("%s: postgres[%d] %s: sha256: %v", path, i, r.Version, err)
		}
		if r.Source != "tarball" && r.Source != "github" {
			return nil, fmt.Errorf("%s: postgres[%d] %s: source %q: want tarball or github", path, i, r.Version, r.Source)
		}
	}
	return &f, nil
}

// IndexFilePath is where the index file of the manifest at file lives.
func IndexFilePath(file string) string { return filepath.Join(filepath.Dir(file), IndexFileName) }

// Builtin returns the built-in release index (without any manifest's or
// index file's additions).
func Builtin() (*Index, error) { return builtinIndex() }

// buildIndex merges the index file beside the manifest, then the manifest's
// sources, releases and option specs into the built-in index.
func (m *Manifest) buildIndex() (*Index, error) {
	x, err := builtinIndex()
	if err != nil {
		return nil, err
	}
	if m.File != "" {
		f, err := ReadIndexFile(IndexFilePath(m.File))
		if err != nil {
			return nil, err
		}
		for _, r := range f.Postgres {
			x.add(r.Release)
		}
	}
	for _, s := range m.Postgres.Sources {
		x.Sources[s.Name] = s
	}
	for i, r := range m.Postgres.Releases {
		if r.Source == "" {
			r.Source = "tarball"
		}
		if _, ok := x.Sources[r.Source]; !ok {
			return nil, fmt.Errorf("postgres.release[%d] %q: source %q is not defined", i, r.Version, r.Source)
		}
		v := MustVersion(r.Version)
		if j, ok := slices.BinarySearchFunc(x.Releases, v, func(r Release, v Version) int { return MustVersion(r.Version).Compare(v) }); ok {
			x.Releases[j] = r
		} else {
			x.Releases = append(x.Releases, r)
			x.sort()
		}
	}
	for o, s := range m.Options {
		x.OptionSpecs[Option(o)] = s
	}
	return x, nil
}
