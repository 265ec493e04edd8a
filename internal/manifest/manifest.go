// Package manifest owns monogres.toml: its schema, loading with positioned
// errors, validation of cross-field rules, and the built-in index of known
// Postgres releases. A loaded Manifest is valid: every later step may rely on
// known arches, option sets, build kinds and well-formed digests.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/monogres/monogres/internal/keys"
)

// Manifest is a decoded monogres.toml.
type Manifest struct {
	Postgres   Postgres          `toml:"postgres" json:"postgres"`
	Targets    map[string]Target `toml:"target" json:"target,omitempty"`
	Extensions []Extension       `toml:"extension" json:"extension,omitempty"`
	// Select names extensions taken from the catalog beside the manifest
	// (CatalogFileName), or "*"; they are expanded into Extensions.
	Select []string `toml:"extensions" json:"-"`
	// Unselected are the catalog entries "*" left out, with the reason.
	Unselected []Unselected    `toml:"-" json:"-"`
	Toolchain  Toolchain       `toml:"toolchain" json:"toolchain"`
	Plugins    []Plugin        `toml:"plugin" json:"plugin,omitempty"`
	Mirrors    []Mirror        `toml:"mirror" json:"mirror,omitempty"`
	Distdirs   []string        `toml:"distdirs" json:"distdirs,omitempty"`
	Default    []string        `toml:"default" json:"default,omitempty"`
	Options    map[string]Spec `toml:"options" json:"options,omitempty"`
	// Bundle is bundle = true for every extension (ExtensionSettings.Bundle).
	Bundle bool `toml:"bundle" json:"bundle,omitempty"`
	// Crawl says where `monogres index update` discovers releases.
	Crawl Crawl `toml:"index" json:"index,omitzero"`
	// Limits bound every build action's sandbox.
	// They decide nothing about the outputs, so they are outside the digest.
	Limits Limits `toml:"limits" json:"-"`
	// TrustedKeys are the public keys ("NAME:BASE64", see internal/keys)
	// whose signatures on packages, attestations and cache entries are
	// trusted. They choose whom to believe, not what to build, so they are
	// left out of the digest: changing them does not make the lock stale.
	TrustedKeys []keys.PublicKey `toml:"trusted_keys" json:"-"`
	// RemoteCache is the URL of a shared build cache (the Bazel HTTP cache
	// protocol; see docs/distributed.md). Where results come from does not
	// change them: outside the digest. Credentials never go here.
	RemoteCache string `toml:"remote_cache" json:"-"`

	// File is the path the manifest was read from.
	File string `toml:"-" json:"-"`
	// Index is the built-in release index with the manifest's additions.
	Index *Index `toml:"-" json:"-"`
}

// Postgres selects Postgres versions, option sets and targets.
type Postgres struct {
	// Versions each resolve to the newest indexed release they match,
	// locked as input "postgres/MAJOR".
	Versions []Spec `toml:"versions" json:"versions"`
	// VersionsAll each resolve to every indexed release they match, locked
	// as "postgres/VERSION".
	VersionsAll []Spec      `toml:"versions_all" json:"versions_all,omitempty"`
	OptionSets  []OptionSet `toml:"option_sets" json:"option_sets"`
	Targets     []Arch      `toml:"targets" json:"targets"`
	// Sources add to or replace (by name) the built-in source templates.
	Sources []Source `toml:"source" json:"source,omitempty"`
	// Releases add to or override the built-in release index.
	Releases []Release `toml:"release" json:"release,omitempty"`
	// Build replaces the built-in recipe of every Postgres cell
	// (configure/make up to 15, meson from 16) by a plugin:
	// "plugin:NAME"; empty keeps the built-in one.
	Build BuildKind `toml:"build" json:"build,omitempty"`
}

// Target holds per-architecture facts.
type Target struct {
	// Unsupported options are left out of this arch's cells (e.g. llvm when
	// cross-compiling); plan shows them as dropped.
	Unsupported []Option `toml:"unsupported" json:"unsupported,omitempty"`
}

// Source is a template for where an archive can be downloaded. URLs are
// alternatives tried in order; placeholders {version}, {major}, {minor},
// {tag} and {name} are filled per release.
type Source struct {
	Name        string   `toml:"name" json:"name"`
	URLs        []string `toml:"urls" json:"urls"`
	StripPrefix string   `toml:"strip_prefix" json:"strip_prefix,omitempty"`
	// Apt names a Debian source package file holding the same bytes:
	// "source:PKG=DEBVERSION:FILE" (placeholders allowed).
	Apt string `toml:"apt" json:"apt,omitempty"`
}

// Release is one index entry: a version, which source it comes from and its digest.
type Release struct {
	Version         string `toml:"version" json:"version"`
	Source          string `toml:"source" json:"source"`
	SHA256          SHA256 `toml:"sha256" json:"sha256"`
	Size            int64  `toml:"size" json:"size,omitempty"`
	Tag             string `toml:"tag" json:"tag,omitempty"`
	Apt             string `toml:"apt" json:"apt,omitempty"`
	SourceDateEpoch int64  `toml:"source_date_epoch" json:"source_date_epoch,omitempty"`
	// URL and StripPrefix are an extension release's own archive (catalog
	// entries pin each version's Debian pool URL); they come before the
	// extension's [[extension.source]] templates.
	URL         string `toml:"url" json:"url,omitempty"`
	StripPrefix string `toml:"strip_prefix" json:"strip_prefix,omitempty"`
}

// Extension declares an extension, its versions and how to build it.
type Extension struct {
	Name     string    `toml:"name" json:"name"`
	Versions []string  `toml:"versions" json:"versions"`
	Build    BuildKind `toml:"build" json:"build"`
	// Postgres constrains the compatible Postgres versions ("*" if empty).
	Postgres Spec `toml:"postgres" json:"postgres"`
	// Packages are extra toolchain packages the build needs, for every
	// target; they go into this extension's cells' roots only.
	Packages []string `toml:"packages" json:"packages,omitempty"`
	// Target adds packages per target arch, where names differ or must be
	// qualified ([extension.target.arm64] packages = ["libfoo-dev:arm64"]).
	Target   map[string]ToolchainTarget `toml:"target" json:"target,omitempty"`
	Sources  []Source                   `toml:"source" json:"source,omitempty"`
	Releases []Release                  `toml:"release" json:"release,omitempty"`
	// Params are passed to the build plugin (build = "plugin:NAME") as the
	// request's params, so one plugin can serve many extensions.
	Params map[string]string `toml:"params" json:"params,omitempty"`
	// Catalog says the entry came from the catalog (Select).
	Catalog bool `toml:"-" json:"-"`
	// wildcard: selected by "*" only (pruneWildcard may leave it out).
	wildcard bool
	// Build and test settings (shared_preload_libraries, bundle, ...).
	ExtensionSettings
}

// Toolchain says where build roots come from.
type Toolchain struct {
	// Archive is a Debian archive base URL, e.g. a snapshot.debian.org URL.
	Archive    string   `toml:"archive" json:"archive"`
	Suite      string   `toml:"suite" json:"suite"`
	Components []string `toml:"components" json:"components"`
	// Packages make up the amd64 build host root used by every cell.
	Packages []string `toml:"packages" json:"packages"`
	// Target adds packages per target arch (the arm64 cross root).
	Target map[string]ToolchainTarget `toml:"target" json:"target,omitempty"`
	// Keys are the fingerprints of the OpenPGP keys trusted to sign the
	// archive's Release file; empty means Debian 12's archive keys.
	Keys []string `toml:"keys" json:"keys,omitempty"`
	// Keyring is a file of public keys (relative to the manifest) for an
	// archive Debian does not sign; only its keys listed in Keys are trusted.
	Keyring string `toml:"keyring" json:"keyring,omitempty"`
}

// ToolchainTarget lists packages added for one target arch.
type ToolchainTarget struct {
	Packages []string `toml:"packages" json:"packages"`
}

// Plugin pins a WebAssembly plugin module: a URL with its sha256, or a
// local file the lock pins by hashing it.
type Plugin struct {
	Name   string `toml:"name" json:"name"`
	URL    string `toml:"url" json:"url,omitempty"`
	SHA256 SHA256 `toml:"sha256" json:"sha256,omitempty"`
	// Path is a local .wasm file, relative to the manifest (a plugin being
	// written): `monogres lock` hashes it, and `lock --check` and `build`
	// notice when it changed since.
	Path string `toml:"path" json:"path,omitempty"`
}

// Mirror rewrites URLs starting with From to start with To.
type Mirror struct {
	From string `toml:"from" json:"from"`
	To   string `toml:"to" json:"to"`
}

// Load reads and validates the manifest at path.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates manifest bytes; file names them in errors.
func Parse(file string, data []byte) (*Manifest, error) {
	if err := checkShape(file, data); err != nil {
		return nil, err
	}
	m, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	m.File = file
	if err := m.selectExtensions(data); err != nil {
		return nil, err
	}
	if err := checkStrings(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", tableLine(file, data, err), err)
	}
	idx, err := m.buildIndex()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.Index = idx
	m.pruneWildcard()
	return &m, nil
}

// Digest is "sha256:<hex>" of the manifest's canonical form (comments and
// formatting do not change it), as the manifest is now. It is computed on
// each call (a JSON encoding of the whole manifest: about 10 ms on the
// 10,000-input scale manifest), so Parse does not pay for it; no command
// needs it (the lock pins lock.ManifestDigest, a view of the inputs).
func (m *Manifest) Digest() string {
	canon, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// decode decodes with BurntSushi/toml, whose errors carry positions.
func decode(file string, data []byte) (Manifest, error) {
	var m Manifest
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&m)
	if err != nil {
		return Manifest{}, positioned(file, data, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		line := findKeyLine(data, k)
		return Manifest{}, fmt.Errorf("%s:%d:1: unknown key %q", file, line, k.String())
	}
	return m, nil
}

// positioned turns a toml error into "file:line:col: message".
func positioned(file string, data []byte, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		// Type mismatches come as "toml: line N (last key "K"): msg".
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			col := 1
			lines := strings.Split(string(data), "\n")
			key := strings.Split(m[2], ".")
			if line >= 1 && line <= len(lines) {
				if c := strings.Index(lines[line-1], key[len(key)-1]); c >= 0 {
					col = c + 1
				}
			}
			return fmt.Errorf("%s:%d:%d: %s: %s", file, line, col, m[2], m[3])
		}
		return fmt.Errorf("%s: %v", file, err)
	}
	line, col := pe.Position.Line, pe.Position.Col
	// The lexer counts a line as soon as it reads its '\n', so an error at a
	// line's end names the next line; the byte offset is exact.
	if st := pe.Position.Start; st >= 0 && st < len(data) {
		line = bytes.Count(data[:st], []byte("\n")) + 1
		col = st - bytes.LastIndexByte(data[:st], '\n')
	}
	// The toml library remembers one position per key path, so for arrays of
	// tables it points at the last table, and for arrays at their first
	// element. Our value errors quote the bad value: point at it.
	if q := quoted.FindString(pe.Message); q != "" && pe.LastKey != "" {
		lines := strings.Split(string(data), "\n")
		if line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], q) {
			col = strings.Index(lines[line-1], q) + 1
		} else {
			for i, l := range lines {
				if c := strings.Index(l, q); c >= 0 {
					line, col = i+1, c+1
					break
				}
			}
		}
	}
	msg := pe.Message
	if pe.LastKey != "" {
		msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
	}
	return fmt.Errorf("%s:%d:%d: %s", file, line, col, msg)
}

var arrayTableRef = regexp.MustCompile(`^(extension|plugin|mirror|postgres\.release|postgres\.source)\[(\d+)\]`)

// tableLine is "file:line" of the array table a validation error names
// ("extension[2] ..." is the third [[extension]]; an extension the catalog
// selection added is at the `extensions` key), or file.
func tableLine(file string, data []byte, err error) string {
	if strings.HasPrefix(err.Error(), "postgres.build") {
		if line := keyInTable(data, "postgres", "build"); line > 0 {
			return fmt.Sprintf("%s:%d", file, line)
		}
	}
	m := arrayTableRef.FindStringSubmatch(err.Error())
	if m == nil {
		return file
	}
	n, _ := strconv.Atoi(m[2])
	header := regexp.MustCompile(`^\s*\[\[\s*` + regexp.QuoteMeta(m[1]) + `\s*\]\]`)
	for i, l := range strings.Split(string(data), "\n") {
		if header.MatchString(l) {
			if n == 0 {
				return fmt.Sprintf("%s:%d", file, i+1)
			}
			n--
		}
	}
	if m[1] == "extension" {
		if line, _ := findValue(data, "extensions", ""); line > 1 {
			return fmt.Sprintf("%s:%d", file, line)
		}
	}
	return file
}

// keyInTable is the 1-based line of `key =` in the [table] table (0: none).
func keyInTable(data []byte, table, key string) int {
	header := regexp.MustCompile(`^\s*\[+\s*([^\]]*?)\s*\]+`)
	assign := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	in := false
	for i, l := range strings.Split(string(data), "\n") {
		if h := header.FindStringSubmatch(l); h != nil {
			in = h[1] == table
		} else if in && assign.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

var fingerprint = regexp.MustCompile(`^(0[xX])?([0-9A-Fa-f]{4} ?){9}[0-9A-Fa-f]{4}$|^[0-9A-Fa-f]{64}$`)

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// findKeyLine returns the 1-based line defining the last part of key k, or 1.
func findKeyLine(data []byte, k toml.Key) int {
	last := k[len(k)-1]
	re := regexp.MustCompile(`^\s*("?` + regexp.QuoteMeta(last) + `"?\s*=|\[+\s*` + regexp.QuoteMeta(strings.Join(k, ".")) + `\s*\]+)`)
	for i, l := range strings.Split(string(data), "\n") {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 1
}

// nameSeparators may not appear in extension names and versions: "~" and
// "/" separate the parts of cell names and lock input names.
const nameSeparators = "~/ \t\n"

// validate checks cross-field rules and fills defaults.
func (m *Manifest) validate() error {
	p := &m.Postgres
	if len(p.Versions) == 0 && len(p.VersionsAll) == 0 {
		return errors.New("postgres.versions: at least one version or spec is required")
	}
	majors := map[int]int{}
	for i, s := range p.Versions {
		if mj, ok := s.Major(); ok {
			if j, dup := majors[mj]; dup {
				return fmt.Errorf("postgres.versions[%d] %q: major %d is already selected by postgres.versions[%d] %q; list several minors under postgres.versions_all", i, s, mj, j, p.Versions[j])
			}
			majors[mj] = i
		}
	}
	if len(p.OptionSets) == 0 {
		p.OptionSets = slices.Clone(OptionSets)
	}
	if len(p.Targets) == 0 {
		p.Targets = []Arch{"amd64"}
	}
	for i, s := range p.Sources {
		if s.Name == "" {
			return fmt.Errorf("postgres.source[%d]: name is required", i)
		}
		if len(s.URLs) == 0 {
			return fmt.Errorf("postgres.source[%d] %q: urls: at least one URL is required", i, s.Name)
		}
	}
	for i, r := range p.Releases {
		if _, err := ParseVersion(r.Version); err != nil {
			return fmt.Errorf("postgres.release[%d]: version: %v", i, err)
		}
		if r.SHA256 == "" {
			return fmt.Errorf("postgres.release[%d] %q: sha256 is required", i, r.Version)
		}
		if r.URL != "" || r.StripPrefix != "" {
			return fmt.Errorf("postgres.release[%d] %q: url and strip_prefix are for extension releases; a Postgres release takes them from its [[postgres.source]]", i, r.Version)
		}
	}
	plugins := map[string]bool{}
	for i, pl := range m.Plugins {
		switch {
		case pl.Name == "":
			return fmt.Errorf("plugin[%d]: name is required", i)
		case plugins[pl.Name]:
			return fmt.Errorf("plugin[%d] %q: duplicate plugin name", i, pl.Name)
		case pl.Path != "" && (pl.URL != "" || pl.SHA256 != ""):
			return fmt.Errorf("plugin[%d] %q: path is a local plugin that monogres lock pins: give either path, or url and sha256", i, pl.Name)
		case pl.Path != "":
		case pl.URL == "":
			return fmt.Errorf("plugin[%d] %q: url (or path, for a local plugin) is required", i, pl.Name)
		case pl.SHA256 == "":
			return fmt.Errorf("plugin[%d] %q: sha256 is required (build the plugin with `monogres plugin build DIR --pin %s`, or use path = for a local file)", i, pl.Name, pl.Name)
		}
		plugins[pl.Name] = true
	}
	if p.Build != "" {
		name, isPlugin := p.Build.Plugin()
		switch {
		case !isPlugin:
			return fmt.Errorf("postgres.build %q: a Postgres cell builds with its built-in recipe (leave build out) or a plugin, \"plugin:NAME\"", p.Build)
		case !plugins[name]:
			return fmt.Errorf("postgres.build: plugin %q is not declared in any [[plugin]]", name)
		}
	}
	exts := map[string]bool{}
	for i, e := range m.Extensions {
		where := fmt.Sprintf("extension[%d] %q", i, e.Name)
		switch {
		case e.Name == "":
			return fmt.Errorf("extension[%d]: name is required", i)
		case exts[e.Name]:
			return fmt.Errorf("%s: duplicate extension name", where)
		case strings.ContainsAny(e.Name, nameSeparators):
			return fmt.Errorf("%s: name may not contain '~', '/' or spaces (they separate the parts of cell and input names)", where)
		case len(e.Versions) == 0:
			return fmt.Errorf("%s: versions: at least one version is required", where)
		case e.Build == "":
			return fmt.Errorf("%s: build is required (contrib, pgxs, configure, cmake, make, meson or plugin:NAME)", where)
		}
		exts[e.Name] = true
		for j, v := range e.Versions {
			if v == "" || strings.ContainsAny(v, nameSeparators) {
				return fmt.Errorf("%s: versions[%d] %q: a version may not be empty or contain '~', '/' or spaces", where, j, v)
			}
			if slices.Contains(e.Versions[:j], v) {
				return fmt.Errorf("%s: versions[%d] %q is listed twice", where, j, v)
			}
		}
		name, isPlugin := e.Build.Plugin()
		if isPlugin && !plugins[name] {
			return fmt.Errorf("%s: build: plugin %q is not declared in any [[plugin]]", where, name)
		}
		if len(e.Params) > 0 && !isPlugin {
			return fmt.Errorf("%s: params are passed to a build plugin, but build is %q (not plugin:NAME)", where, e.Build)
		}
		if e.Postgres.String() == "" {
			m.Extensions[i].Postgres, _ = ParseSpec("*")
		}
		for a := range e.Target { // a supported arch not in postgres.targets waits until it is built
			if err := new(Arch).UnmarshalText([]byte(a)); err != nil {
				return fmt.Errorf("%s: target.%s: %w", where, a, err)
			}
		}
		if err := e.ExtensionSettings.check(where); err != nil {
			return err
		}
		pinned := len(e.Releases) > 0
		for _, r := range e.Releases {
			pinned = pinned && r.URL != ""
		}
		if e.Build != "contrib" && len(e.Sources) == 0 && !pinned {
			return fmt.Errorf("%s: source: at least one [[extension.source]] is required for build %q", where, e.Build)
		}
	}
	if err := checkRequires(m.Extensions); err != nil {
		return err
	}
	for i, mr := range m.Mirrors {
		if mr.From == "" || mr.To == "" {
			return fmt.Errorf("mirror[%d]: from and to are both required", i)
		}
	}
	for a := range m.Targets {
		if err := new(Arch).UnmarshalText([]byte(a)); err != nil {
			return fmt.Errorf("target.%s: %v", a, err)
		}
	}
	for o := range m.Options {
		if err := new(Option).UnmarshalText([]byte(o)); err != nil {
			return fmt.Errorf("options.%s: %v", o, err)
		}
	}
	if err := m.Limits.check(); err != nil {
		return err
	}
	for i, k := range m.Toolchain.Keys {
		if !fingerprint.MatchString(k) {
			return fmt.Errorf("toolchain.keys[%d] %q: want an OpenPGP key fingerprint (40 or 64 hex digits)", i, k)
		}
	}
	if m.Toolchain.Keyring != "" && len(m.Toolchain.Keys) == 0 {
		return fmt.Errorf("toolchain.keyring %q: list the fingerprints to trust from it in toolchain.keys", m.Toolchain.Keyring)
	}
	for a := range m.Toolchain.Target {
		if err := new(Arch).UnmarshalText([]byte(a)); err != nil {
			return fmt.Errorf("toolchain.target.%s: %w", a, err)
		}
	}
	return nil
}
