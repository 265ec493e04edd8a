package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// CatalogFileName is the extension catalog `monogres index update` writes
// beside the manifest (see docs/extensions.md): every Postgres extension
// source package of the Debian suites the manifest names, with the digests
// Debian's signed Sources list.
const CatalogFileName = "monogres.catalog.json"

// CatalogFilePath is where the catalog of the manifest at file lives.
func CatalogFilePath(file string) string { return filepath.Join(filepath.Dir(file), CatalogFileName) }

// Catalog is the catalog file: extensions sorted by name.
type Catalog struct {
	Extensions []CatalogEntry `json:"extensions"`
}

// CatalogEntry is one Debian source package holding a Postgres extension.
type CatalogEntry struct {
	// Name is what a manifest selects: the source package's name without a
	// "postgresql-" prefix, '-' as '_' (pg-partman: pg_partman,
	// postgresql-numeral: numeral).
	Name          string `json:"name"`
	SourcePackage string `json:"source_package"`
	// Homepage is upstream's, from the Sources stanza (where known).
	Homepage string `json:"homepage,omitempty"`
	// Versions are the upstream versions, newest first.
	Versions []CatalogVersion `json:"versions"`
}

// CatalogVersion is one upstream version of a catalog entry and what
// Debian and its tarball say about it.
type CatalogVersion struct {
	// Version is the upstream version without epoch ('~' written '-': a
	// manifest version may not hold '~').
	Version string `json:"version"`
	// Debian is the newest Debian version shipping it ("2.4.2-3").
	Debian string   `json:"debian"`
	Suites []string `json:"suites"`
	// URL is the orig tarball in Debian's pool.
	URL         string `json:"url"`
	SHA256      SHA256 `json:"sha256"`
	Size        int64  `json:"size"`
	Apt         string `json:"apt"`
	Origin      string `json:"origin"`
	Fetchable   bool   `json:"fetchable"`
	Unfetchable string `json:"unfetchable,omitempty"` // why not, e.g. "HTTP 404 Not Found"
	// Found from the tarball (fetchable versions only).
	StripPrefix string `json:"strip_prefix,omitempty"`
	// Build is the build kind guessed (a string: a catalog written by a
	// newer monogres may name kinds this one does not know).
	Build    string   `json:"build,omitempty"`
	Controls []string `json:"controls,omitempty"` // control files' names
	Regress  bool     `json:"regress,omitempty"`  // the Makefile sets REGRESS
	// Packages are Build-Depends found in the toolchain suite, without
	// Postgres, debhelper and build tools every root has; Unmapped are
	// those it does not have.
	Packages []string `json:"packages,omitempty"`
	Unmapped []string `json:"unmapped,omitempty"`
	// Majors are the Postgres majors Debian built this version for
	// (binary packages postgresql-NN-*); Postgres is the spec selection
	// uses: exactly that major for packages named after one
	// (pgaudit-18), else every major up to the newest Debian built for.
	Majors   []int  `json:"majors"`
	Postgres string `json:"postgres"`
}

// ReadCatalog reads a catalog file; a missing file is an empty catalog.
func ReadCatalog(path string) (*Catalog, error) {
	var c Catalog
	if err := readJSONFile(path, &c); err != nil {
		return nil, err
	}
	for i, e := range c.Extensions {
		if e.Name == "" || strings.ContainsAny(e.Name, nameSeparators) {
			return nil, fmt.Errorf("%s: extensions[%d]: bad name %q", path, i, e.Name)
		}
		for j, v := range e.Versions {
			where := fmt.Sprintf("%s: extensions[%d] %s versions[%d] %q", path, i, e.Name, j, v.Version)
			if v.Version == "" || strings.ContainsAny(v.Version, nameSeparators) {
				return nil, fmt.Errorf("%s: bad version", where)
			}
			if !isSHA256([]byte(v.SHA256)) {
				return nil, fmt.Errorf("%s: sha256 %q: want 64 lowercase hex digits", where, v.SHA256)
			}
			if _, err := ParseSpec(v.Postgres); err != nil {
				return nil, fmt.Errorf("%s: postgres: %v", where, err)
			}
		}
	}
	return &c, nil
}

// Lookup finds an entry by name, source package or control file name.
func (c *Catalog) Lookup(name string) (*CatalogEntry, bool) {
	for _, by := range []func(e *CatalogEntry) bool{
		func(e *CatalogEntry) bool { return e.Name == name },
		func(e *CatalogEntry) bool { return e.SourcePackage == name },
		func(e *CatalogEntry) bool {
			return len(e.Versions) > 0 && slices.Contains(e.Versions[0].Controls, name)
		},
	} {
		for i := range c.Extensions {
			if by(&c.Extensions[i]) {
				return &c.Extensions[i], true
			}
		}
	}
	return nil, false
}

// Preferred is the version selection picks by default: the newest one whose
// tarball was read and whose build kind this monogres knows, else the newest.
func (e *CatalogEntry) Preferred() CatalogVersion {
	for _, v := range e.Versions {
		if v.buildable() {
			return v
		}
	}
	return e.Versions[0]
}

// buildable: the tarball was read and its build kind is one this monogres
// knows (a catalog written by a newer one may name more).
func (v CatalogVersion) buildable() bool {
	return v.Build != "" && new(BuildKind).UnmarshalText([]byte(v.Build)) == nil
}

// Extension is the [[extension]] a manifest gets by selecting e: the given
// versions (default: the preferred one), each pinned by Debian's sha256.
func (e *CatalogEntry) Extension(versions []string) (Extension, error) {
	if len(versions) == 0 {
		versions = []string{e.Preferred().Version}
	}
	x := Extension{Name: e.Name, Versions: versions, Catalog: true}
	for _, want := range versions {
		i := slices.IndexFunc(e.Versions, func(v CatalogVersion) bool { return v.Version == want })
		if i < 0 {
			var known []string
			for _, v := range e.Versions {
				known = append(known, v.Version)
			}
			return Extension{}, fmt.Errorf("version %q of %s is not in %s (known: %s)", want, e.Name, CatalogFileName, strings.Join(known, ", "))
		}
		v := e.Versions[i]
		x.Releases = append(x.Releases, Release{Version: v.Version, SHA256: v.SHA256, Size: v.Size, Apt: v.Apt, URL: v.URL, StripPrefix: v.StripPrefix})
		if x.Build == "" && v.buildable() {
			// The first version named decides the build kind, packages and
			// Postgres spec (an [[extension]] of the same name overrides them).
			x.Build, x.Packages = BuildKind(v.Build), slices.Clone(v.Packages)
			x.Postgres, _ = ParseSpec(v.Postgres)
		}
	}
	return x, nil
}

// noBuild says why an entry selected without a build kind cannot be built.
func (e *CatalogEntry) noBuild() error {
	v := e.Preferred()
	why := "its tarball was not read"
	if v.Build != "" {
		why = fmt.Sprintf("build kind %q (guessed from its tarball) is not one this monogres knows", v.Build)
	}
	if v.Unfetchable != "" {
		why = "its tarball could not be downloaded when the catalog was made (" + v.Unfetchable + ")"
	}
	return fmt.Errorf("%s: build kind unknown: %s; give build (and source) in an [[extension]] named %q", e.Name, why, e.Name)
}

// selectExtensions expands the manifest's `extensions` selection from the
// catalog beside it into m.Extensions: an [[extension]] of the same name
// overrides the catalog entry field by field (a field it sets replaces the
// catalog's); catalog entries not overridden follow the hand-written ones.
// "*" selects every entry whose build kind is known.
func (m *Manifest) selectExtensions(data []byte) error {
	if len(m.Select) == 0 {
		return nil
	}
	path := CatalogFilePath(m.File)
	cat, err := ReadCatalog(path)
	if err != nil {
		return err
	}
	at := func(name string) string {
		line, col := findValue(data, "extensions", name)
		return fmt.Sprintf("%s:%d:%d: extensions", m.File, line, col)
	}
	var picked []*CatalogEntry
	wild := map[string]bool{}
	for _, name := range m.Select {
		if name == "*" {
			for i := range cat.Extensions {
				if cat.Extensions[i].Preferred().buildable() {
					picked = append(picked, &cat.Extensions[i])
					wild[cat.Extensions[i].Name] = true
				}
			}
			continue
		}
		e, ok := cat.Lookup(name)
		if !ok {
			hint := "run `monogres index update` with [index] extensions = true"
			if len(cat.Extensions) > 0 {
				hint = fmt.Sprintf("it has %d entries; `monogres index update` refreshes it", len(cat.Extensions))
			}
			return fmt.Errorf("%s: %q is not in %s (%s)", at(name), name, path, hint)
		}
		picked = append(picked, e)
	}
	seen := map[string]bool{}
	for _, e := range picked {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		i := slices.IndexFunc(m.Extensions, func(x Extension) bool { return x.Name == e.Name })
		var versions []string
		if i >= 0 {
			versions = m.Extensions[i].Versions
		}
		x, err := e.Extension(versions)
		if err == nil && x.Build == "" && (i < 0 || m.Extensions[i].Build == "") {
			err = e.noBuild()
		}
		if err != nil {
			return fmt.Errorf("%s: %v", at(e.Name), err)
		}
		x.wildcard = wild[e.Name] && !slices.Contains(m.Select, e.Name)
		if i < 0 {
			m.Extensions = append(m.Extensions, x)
			continue
		}
		override(reflect.ValueOf(&x).Elem(), reflect.ValueOf(m.Extensions[i]))
		m.Extensions[i] = x
	}
	return nil
}

// override sets every field of dst that src sets (non-zero), descending
// into embedded structs.
func override(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		f := src.Type().Field(i)
		switch {
		case !f.IsExported():
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			override(dst.Field(i), src.Field(i))
		case !src.Field(i).IsZero():
			dst.Field(i).Set(src.Field(i))
		}
	}
}

// findValue returns the line and column of the quoted value v of the
// top-level key, or of the key itself (1, 1 if not found).
func findValue(data []byte, key, v string) (int, int) {
	lines := strings.Split(string(data), "\n")
	start := -1
	for i, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, key) && strings.HasPrefix(strings.TrimSpace(t[len(key):]), "=") {
			start = i
			break
		}
	}
	if start < 0 {
		return 1, 1
	}
	for i := start; i < len(lines) && i < start+200; i++ {
		if c := strings.Index(lines[i], `"`+v+`"`); c >= 0 {
			return i + 1, c + 1
		}
		if i > start && strings.HasPrefix(strings.TrimSpace(lines[i]), "[") && !strings.HasPrefix(strings.TrimSpace(lines[i]), "[\"") {
			break
		}
	}
	return start + 1, strings.Index(lines[start], key) + 1
}

// Unselected is a catalog entry "*" left out, and why.
type Unselected struct {
	Name, Reason string
}

// pruneWildcard leaves out the entries "*" selected whose Postgres spec
// matches none of the manifest's Postgres versions (pg_hint_plan_17 in a
// manifest of 15 and 18); they are listed in m.Unselected. An entry named
// explicitly stays (and fails as any such extension does).
func (m *Manifest) pruneWildcard() {
	var versions []Version
	for _, s := range m.Postgres.Versions {
		if v, ok := m.Index.Newest(s); ok {
			versions = append(versions, v)
		}
	}
	for _, s := range m.Postgres.VersionsAll {
		versions = append(versions, m.Index.All(s)...)
	}
	var names []string
	for _, v := range versions {
		names = append(names, v.String())
	}
	m.Extensions = slices.DeleteFunc(m.Extensions, func(e Extension) bool {
		if !e.wildcard || slices.ContainsFunc(versions, e.Postgres.Match) {
			return false
		}
		m.Unselected = append(m.Unselected, Unselected{e.Name, fmt.Sprintf("postgres = %q matches none of the manifest's Postgres versions (%s)", e.Postgres.String(), strings.Join(names, ", "))})
		return true
	})
}

// readJSONFile decodes the JSON file at path into v; a missing file leaves
// v as it is.
func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}
