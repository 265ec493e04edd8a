package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
)

// Hashed is what downloading an input tells about it.
type Hashed struct {
	SHA256          string
	Size            int64
	SourceDateEpoch int64
}

// Options control Resolve.
type Options struct {
	// Update names inputs to re-resolve (to the newest matching version and
	// a fresh hash); other inputs keep what the old lock says.
	Update []string
	// Offline forbids downloads: inputs that would need one are returned in
	// Result.Pending with an empty sha256.
	Offline bool
	// Hash downloads urls and hashes them. Required unless Offline.
	Hash func(ctx context.Context, in Input) (Hashed, error)
	// Toolchain resolves the toolchain's layers into Debian package inputs
	// (and the index files they came from) and root entries; old (may be
	// nil) is the previous lock, whose unchanged layers it may keep. Nil or
	// Offline keeps the old lock's.
	Toolchain func(ctx context.Context, m *manifest.Manifest, old *Lock) ([]Input, []Root, error)
	// RootRequests are the request digests of the toolchain layers the
	// manifest asks for now, by layer name (toolchains.Spec.Digests); when
	// the old lock's roots differ, the toolchain is resolved again, as
	// `lock --check` would call it stale. Nil: only the toolchain digest
	// decides.
	RootRequests map[string]string
}

// Result is a resolved lock plus what could not be resolved offline.
type Result struct {
	Lock    *Lock
	Pending []string // inputs that need a download to be hashed
	// LockOnly names the inputs whose sha256 neither the manifest nor the
	// release index gives: the lock (the download `monogres lock` hashed)
	// is their only pin.
	LockOnly []string
}

// ManifestDigest is the digest of the parts of a manifest that decide the
// inputs: changing an option set or the default cells does not stale a lock.
func ManifestDigest(m *manifest.Manifest) string {
	type extView struct {
		Name     string
		Versions []string
		Packages []string
		Target   map[string]manifest.ToolchainTarget `json:",omitempty"`
		Sources  []manifest.Source
		Releases []manifest.Release
	}
	view := struct {
		Versions, VersionsAll []manifest.Spec
		Targets               []manifest.Arch
		Sources               []manifest.Source
		Releases              []manifest.Release
		Extensions            []extView
		Toolchain             manifest.Toolchain
		Plugins               []manifest.Plugin
	}{
		Versions: m.Postgres.Versions, VersionsAll: m.Postgres.VersionsAll, Targets: m.Postgres.Targets,
		Sources: m.Postgres.Sources, Releases: m.Postgres.Releases, Toolchain: m.Toolchain, Plugins: m.Plugins,
	}
	for _, e := range m.Extensions {
		view.Extensions = append(view.Extensions, extView{e.Name, e.Versions, e.Packages, e.Target, e.Sources, e.Releases})
	}
	return digestJSON(view)
}

// ToolchainDigest is the digest of what decides the toolchain packages: the
// toolchain section, the targets and the options they do not support, and
// the extensions' packages (for all and per target).
func ToolchainDigest(m *manifest.Manifest) string {
	var extra []string
	for _, e := range m.Extensions {
		extra = append(extra, e.Packages...)
		for _, t := range slices.Sorted(maps.Keys(e.Target)) {
			for _, p := range e.Target[t].Packages {
				extra = append(extra, e.Name+" target "+t+": "+p)
			}
		}
	}
	var unsupported []string
	for _, t := range m.Postgres.Targets {
		for _, o := range m.Targets[string(t)].Unsupported {
			unsupported = append(unsupported, string(t)+": "+string(o))
		}
	}
	return digestJSON(struct {
		Toolchain   manifest.Toolchain
		Targets     []manifest.Arch
		Extra       []string
		Unsupported []string `json:",omitempty"`
	}{m.Toolchain, m.Postgres.Targets, extra, unsupported})
}

func digestJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PostgresVersions resolves the manifest's Postgres specs to versions and
// the names of their lock inputs, preferring what old pins (may be nil)
// unless the input is being updated.
func PostgresVersions(m *manifest.Manifest, old *Lock, update []string) ([]plan.Postgres, error) {
	var out []plan.Postgres
	byInput := map[string]int{}    // input name -> index in m.Postgres.Versions
	byVersion := map[string]bool{} // versions already selected
	for i, s := range m.Postgres.Versions {
		v, err := resolveSpec(m, s, fmt.Sprintf("postgres.versions[%d]", i))
		if err != nil {
			return nil, err
		}
		name := "postgres/" + v.MajorString()
		if mj, ok := s.Major(); ok {
			name = fmt.Sprintf("postgres/%d", mj)
		}
		if o, ok := old.find(name); ok && !slices.Contains(update, name) {
			if ov, err := manifest.ParseVersion(o.Version); err == nil && s.Match(ov) {
				v = ov
			}
		}
		if j, dup := byInput[name]; dup {
			return nil, fmt.Errorf("%s: postgres.versions[%d] %q resolves to input %s, which postgres.versions[%d] %q already selects; list several minors under postgres.versions_all", m.File, i, s, name, j, m.Postgres.Versions[j])
		}
		byInput[name] = i
		byVersion[v.String()] = true
		out = append(out, plan.Postgres{Version: v, Input: name})
	}
	for i, s := range m.Postgres.VersionsAll {
		vs := m.Index.All(s)
		if len(vs) == 0 {
			return nil, noMatch(m, s, fmt.Sprintf("postgres.versions_all[%d]", i))
		}
		for _, v := range vs {
			// A version already selected (by postgres.versions or an earlier
			// spec) keeps its input: the same cells must not appear twice.
			if !byVersion[v.String()] {
				byVersion[v.String()] = true
				out = append(out, plan.Postgres{Version: v, Input: "postgres/" + v.String()})
			}
		}
	}
	return out, nil
}

func resolveSpec(m *manifest.Manifest, s manifest.Spec, where string) (manifest.Version, error) {
	if v, ok := s.Exact(); ok {
		return v, nil // an unindexed exact version is hashed by download
	}
	v, ok := m.Index.Newest(s)
	if !ok {
		return v, noMatch(m, s, where)
	}
	return v, nil
}

func noMatch(m *manifest.Manifest, s manifest.Spec, where string) error {
	vs := m.Index.Versions()
	known := "none"
	if len(vs) > 0 {
		known = vs[0].String() + " … " + vs[len(vs)-1].String()
	}
	return fmt.Errorf("%s: %s %q matches no known Postgres release (index has %s); add a [[postgres.release]] or fix the spec", m.File, where, s, known)
}

func (l *Lock) find(name string) (Input, bool) {
	if l == nil {
		return Input{}, false
	}
	return l.Find(name)
}

// Resolve computes the lock for m. It keeps what old pins unless an input is
// named in opts.Update or the manifest no longer allows it.
func Resolve(ctx context.Context, m *manifest.Manifest, old *Lock, opts Options) (*Result, error) {
	pgs, err := PostgresVersions(m, old, opts.Update)
	if err != nil {
		return nil, err
	}
	if err := plan.CheckExtensions(m, pgs); err != nil {
		return nil, err
	}
	n := len(pgs) + len(m.Plugins)
	for _, e := range m.Extensions {
		n += len(e.Versions)
	}
	want := make([]Input, 0, n)
	for _, pg := range pgs {
		in, err := postgresInput(m, pg)
		if err != nil {
			return nil, err
		}
		want = append(want, in)
	}
	for _, e := range m.Extensions {
		if e.Build == "contrib" {
			continue // built from the Postgres source itself
		}
		for _, ev := range e.Versions {
			want = append(want, extensionInput(m, e, ev))
		}
	}
	for _, p := range m.Plugins {
		if p.Path != "" {
			in, err := localPlugin(m, p)
			if err != nil {
				return nil, err
			}
			want = append(want, in)
			continue
		}
		want = append(want, Input{Name: "plugin/" + p.Name, Kind: KindPlugin, URLs: []string{p.URL}, SHA256: string(p.SHA256)})
	}

	res := &Result{Lock: &Lock{Version: FormatVersion, Manifest: ManifestDigest(m)}}
	debs := 0 // room for the toolchain's packages, which follow
	if old != nil {
		for _, in := range old.Inputs {
			if in.Kind == KindDeb || in.Kind == KindIndex {
				debs++
			}
		}
	}
	res.Lock.Inputs = make([]Input, 0, len(want)+debs)
	if len(m.Toolchain.Packages) > 0 {
		res.Lock.Toolchain = ToolchainDigest(m)
	}
	for _, in := range want {
		o, hadOld := old.find(in.Name)
		updating := slices.Contains(opts.Update, in.Name)
		switch {
		case in.SHA256 != "":
			// Pinned by the index or the manifest: authoritative.
			if hadOld && o.SHA256 == in.SHA256 {
				if in.Size == 0 {
					in.Size = o.Size // learned by an earlier download
				}
				if in.SourceDateEpoch == 0 {
					in.SourceDateEpoch = o.SourceDateEpoch
				}
			}
		case hadOld && !updating && o.Version == in.Version && o.Kind == in.Kind:
			in.SHA256, in.Size, in.SourceDateEpoch = o.SHA256, o.Size, o.SourceDateEpoch
			res.LockOnly = append(res.LockOnly, in.Name)
		case opts.Offline:
			res.Pending = append(res.Pending, in.Name)
		default:
			res.LockOnly = append(res.LockOnly, in.Name)
			if opts.Hash == nil {
				return nil, fmt.Errorf("lock: %s needs a download to be hashed and no downloader is set", in.Name)
			}
			h, err := opts.Hash(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("lock: hashing %s: %w", in.Name, err)
			}
			in.SHA256, in.Size, in.SourceDateEpoch = h.SHA256, h.Size, h.SourceDateEpoch
		}
		if in.Kind == KindPlugin && in.Size == 0 && hadOld && o.SHA256 == in.SHA256 {
			in.Size = o.Size
		}
		res.Lock.Inputs = append(res.Lock.Inputs, in)
	}

	// Toolchain packages.
	toolchainStale := old == nil || old.Toolchain != res.Lock.Toolchain || updatesToolchain(opts.Update) ||
		rootsChanged(old, opts.RootRequests)
	switch {
	case res.Lock.Toolchain == "":
		// No toolchain declared: no packages.
	case toolchainStale && opts.Offline:
		// Keep the old packages: they are pending re-resolution, not unwanted.
		res.Pending = append(res.Pending, "toolchain")
		res.Lock.Inputs = append(res.Lock.Inputs, oldToolchain(old)...)
		res.Lock.Roots = old.roots()
	case toolchainStale:
		if opts.Toolchain == nil {
			return nil, fmt.Errorf("lock: the toolchain needs resolving and no resolver is set")
		}
		keep := old
		if updatesToolchain(opts.Update) {
			keep = nil // re-resolve every layer
		}
		debs, roots, err := opts.Toolchain(ctx, m, keep)
		if err != nil {
			return nil, err
		}
		res.Lock.Inputs = append(res.Lock.Inputs, debs...)
		res.Lock.Roots = roots
	default:
		res.Lock.Inputs = append(res.Lock.Inputs, oldToolchain(old)...)
		res.Lock.Roots = old.roots()
	}
	slices.SortFunc(res.Lock.Roots, func(a, b Root) int { return strings.Compare(a.Name, b.Name) })
	res.Lock.Sort()
	for i := 1; i < len(res.Lock.Inputs); i++ {
		if res.Lock.Inputs[i].Name == res.Lock.Inputs[i-1].Name {
			return nil, fmt.Errorf("lock: two inputs are both named %q", res.Lock.Inputs[i].Name)
		}
	}
	return res, nil
}

// rootsChanged says whether old's toolchain layers differ from want (layer
// name to request digest); nil want means unknown, so unchanged.
func rootsChanged(old *Lock, want map[string]string) bool {
	if want == nil {
		return false
	}
	if len(old.Roots) != len(want) {
		return true
	}
	for _, r := range old.Roots {
		if want[r.Name] != r.Request {
			return true
		}
	}
	return false
}

// LocalURL is the URL prefix of a local plugin's input: "file:" and its
// path relative to the manifest, e.g. "file:plugins/mine.wasm".
const LocalURL = "file:"

// localPlugin hashes the local plugin file p.Path (relative to the
// manifest) into its input. A local file is hashed on every resolve, also
// offline, so `lock --check` sees it change.
func localPlugin(m *manifest.Manifest, p manifest.Plugin) (Input, error) {
	file := p.Path
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(m.File), file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return Input{}, fmt.Errorf("%s: plugin %q: path: %w (build it with `monogres plugin build DIR -o %s`)", m.File, p.Name, err, p.Path)
	}
	sum := sha256.Sum256(b)
	return Input{Name: "plugin/" + p.Name, Kind: KindPlugin, URLs: []string{LocalURL + filepath.ToSlash(p.Path)}, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}, nil
}

// oldToolchain returns the Debian packages and index files old pins.
func oldToolchain(old *Lock) []Input {
	var out []Input
	if old != nil {
		for _, in := range old.Inputs {
			if in.Kind == KindDeb || in.Kind == KindIndex {
				out = append(out, in)
			}
		}
	}
	return out
}

func (l *Lock) roots() []Root {
	if l == nil {
		return nil
	}
	return slices.Clone(l.Roots)
}

func updatesToolchain(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool {
		return n == "toolchain" || strings.HasPrefix(n, "deb/") || strings.HasPrefix(n, "index/")
	})
}

func postgresInput(m *manifest.Manifest, pg plan.Postgres) (Input, error) {
	v := pg.Version
	rel, known := m.Index.Lookup(v)
	if !known {
		rel = manifest.Release{Version: v.String(), Source: "tarball"}
	}
	src, ok := m.Index.Sources[rel.Source]
	if !ok {
		return Input{}, fmt.Errorf("%s: postgres %s: source %q is not defined", m.File, v, rel.Source)
	}
	in := Input{
		Name: pg.Input, Kind: KindPostgres, Version: v.String(),
		SHA256: string(rel.SHA256), Size: rel.Size, SourceDateEpoch: rel.SourceDateEpoch,
		StripPrefix: manifest.Expand(src.StripPrefix, v, rel.Tag, "postgresql"),
		Apt:         rel.Apt,
	}
	if in.Apt == "" && src.Apt != "" {
		in.Apt = manifest.Expand(src.Apt, v, rel.Tag, "postgresql")
	}
	for _, u := range src.URLs {
		in.URLs = append(in.URLs, manifest.Expand(u, v, rel.Tag, "postgresql"))
	}
	return in, nil
}

func extensionInput(m *manifest.Manifest, e manifest.Extension, version string) Input {
	in := Input{Name: plan.ExtensionInputName(e.Name, version), Kind: KindExtension, Version: version}
	var rel manifest.Release
	for _, r := range e.Releases {
		if r.Version == version {
			rel = r
		}
	}
	in.SHA256, in.Size, in.SourceDateEpoch, in.Apt = string(rel.SHA256), rel.Size, rel.SourceDateEpoch, rel.Apt
	if rel.URL != "" { // a catalog version's own archive
		in.URLs, in.StripPrefix = []string{rel.URL}, rel.StripPrefix
	}
	// Plain ReplaceAll: a strings.Replacer per input costs more than the
	// rest of `lock --check` on a lock of 10,000 extension inputs.
	fill := func(s string) string {
		if !strings.Contains(s, "{") {
			return s
		}
		s = strings.ReplaceAll(s, "{version}", version)
		s = strings.ReplaceAll(s, "{name}", e.Name)
		return strings.ReplaceAll(s, "{tag}", rel.Tag)
	}
	for _, s := range e.Sources {
		for _, u := range s.URLs {
			if u = fill(u); !slices.Contains(in.URLs, u) { // a catalog pool URL may be templated too
				in.URLs = append(in.URLs, u)
			}
		}
		if in.StripPrefix == "" {
			in.StripPrefix = fill(s.StripPrefix)
		}
		if in.Apt == "" && s.Apt != "" {
			in.Apt = fill(s.Apt)
		}
	}
	return in
}

// Report is what Check found.
type Report struct {
	// Reasons the lock is stale or wrong; none when it is up to date.
	Reasons []string
	// Changes `monogres lock` would make that can be known offline.
	Changes []Change
	// LockOnly names the inputs pinned by the lock alone (see Result).
	LockOnly []string
}

// Check compares a lock with what its manifest asks for, without network.
// It returns the reasons the lock is stale (none when it is up to date) and
// the changes `monogres lock` would make that can be known offline.
func Check(ctx context.Context, m *manifest.Manifest, old *Lock) (reasons []string, changes []Change, err error) {
	r, err := CheckReport(ctx, m, old)
	if err != nil {
		return nil, nil, err
	}
	return r.Reasons, r.Changes, nil
}

// CheckReport is Check with the inputs pinned by the lock alone. A sha256
// the manifest or the release index gives is the trust root of its input:
// a lock that differs is wrong, and the reason names that root.
func CheckReport(ctx context.Context, m *manifest.Manifest, old *Lock) (*Report, error) {
	res, err := Resolve(ctx, m, old, Options{Offline: true})
	if err != nil {
		return nil, err
	}
	var reasons []string
	if old.Manifest != res.Lock.Manifest {
		reasons = append(reasons, fmt.Sprintf("the manifest's inputs changed since the lock was written (lock has %s, manifest is %s)", old.Manifest, res.Lock.Manifest))
	}
	for _, p := range res.Pending {
		if p == "toolchain" {
			reasons = append(reasons, "the toolchain request changed: its Debian packages must be resolved again")
		} else {
			reasons = append(reasons, fmt.Sprintf("input %s is not pinned in the lock", p))
		}
	}
	changes := Diff(old, res.Lock)
	for _, c := range changes {
		switch {
		case c.Kind == Updated && c.Old.SHA256 != c.New.SHA256 && c.New.Kind == KindPlugin && len(c.New.URLs) == 1 && strings.HasPrefix(c.New.URLs[0], LocalURL):
			reasons = append(reasons, fmt.Sprintf("plugin %s: its local file %s changed since it was locked (lock has sha256 %s, the file has %s): run `monogres lock` to pin the new file", strings.TrimPrefix(c.Name, "plugin/"), strings.TrimPrefix(c.New.URLs[0], LocalURL), c.Old.SHA256, c.New.SHA256))
		case c.Kind == Updated && c.Old.Version == c.New.Version && c.New.SHA256 != "" && (c.Old.SHA256 != c.New.SHA256 || c.Old.Size != c.New.Size && c.New.Size != 0):
			for _, d := range fieldDiffs(*c.Old, *c.New, trustRoot(m, c.New)) {
				reasons = append(reasons, fmt.Sprintf("input %s: %s", c.Name, d))
			}
		case c.Kind == Removed:
			reasons = append(reasons, fmt.Sprintf("input %s is locked but the manifest no longer asks for it", c.Name))
		case c.Kind == Added && c.New.SHA256 != "":
			reasons = append(reasons, fmt.Sprintf("input %s is not pinned in the lock", c.Name))
		case c.Kind == Updated:
			reasons = append(reasons, fmt.Sprintf("input %s differs from what the manifest asks for", c.Name))
		}
	}
	return &Report{Reasons: reasons, Changes: changes, LockOnly: res.LockOnly}, nil
}

// trustRoot names where the sha256 of a manifest-derived input comes from.
func trustRoot(m *manifest.Manifest, in *Input) string {
	switch in.Kind {
	case KindExtension:
		for _, e := range m.Extensions {
			if e.Catalog && in.Name == plan.ExtensionInputName(e.Name, in.Version) {
				return fmt.Sprintf("%s (from Debian's signed Sources, selected by %s)", manifest.CatalogFilePath(m.File), m.File)
			}
		}
		return fmt.Sprintf("%s ([[extension.release]] version %s)", m.File, in.Version)
	case KindPlugin:
		return fmt.Sprintf("%s ([[plugin]] %s)", m.File, strings.TrimPrefix(in.Name, "plugin/"))
	case KindPostgres:
		for _, r := range m.Postgres.Releases {
			if r.Version == in.Version {
				return fmt.Sprintf("%s ([[postgres.release]] version %s)", m.File, in.Version)
			}
		}
		return fmt.Sprintf("monogres' built-in release index (Postgres %s)", in.Version)
	}
	return "the index"
}
