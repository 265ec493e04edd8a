package manifest

import (
	_ "embed"
	"encoding/json"
	"fmt"
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
	byVersion := map[string]Release{}
	for v, r := range raw.Tarball {
		apt, err := aptHint(r.DebianSuite, r.DebianOrig)
		if err != nil {
			return nil, fmt.Errorf("built-in release index: tarball %s: %v", v, err)
		}
		byVersion[v] = Release{Version: v, Source: "tarball", SHA256: SHA256(r.SHA256), Size: r.Size, Apt: apt, SourceDateEpoch: sourceDateEpochs[v]}
	}
	for v, r := range raw.GitHub {
		g := Release{Version: v, Source: "github", SHA256: SHA256(r.SHA256), Tag: r.Tag}
		if _, ok := byVersion[v]; ok {
			x.Alternatives[v] = append(x.Alternatives[v], g)
			continue
		}
		byVersion[v] = g
	}
	for _, r := range byVersion {
		x.Releases = append(x.Releases, r)
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

func (x *Index) sort() {
	slices.SortFunc(x.Releases, func(a, b Release) int { return MustVersion(a.Version).Compare(MustVersion(b.Version)) })
}

// buildIndex merges the manifest's sources, releases and option specs into
// the built-in index.
func (m *Manifest) buildIndex() (*Index, error) {
	x, err := builtinIndex()
	if err != nil {
		return nil, err
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
