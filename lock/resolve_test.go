package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

const (
	sha1518 = "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4"
)

func parse(t *testing.T, toml string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("m.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// hasher hashes bytes it holds by URL, as a download would, and counts calls.
type hasher struct {
	files map[string]string
	calls []string
}

func (h *hasher) hash(_ context.Context, in Input) (Hashed, error) {
	h.calls = append(h.calls, in.Name)
	for _, u := range in.URLs {
		if body, ok := h.files[u]; ok {
			sum := sha256.Sum256([]byte(body))
			return Hashed{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}, nil
		}
	}
	return Hashed{}, fmt.Errorf("404 for %v", in.URLs)
}

func hexsum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const extManifest = `
[postgres]
versions = ["15.18", "17.*"]

[[extension]]
name = "sim"
versions = ["1.0", "1.1"]
build = "pgxs"
[[extension.source]]
urls = ["https://ext.example/{name}-{version}.tar.gz", "https://mirror.example/{name}/{version}.tgz"]
strip_prefix = "{name}-{version}"
apt = "source:pg-{name}={version}-1:pg-{name}_{version}.orig.tar.gz"
[[extension.release]]
version = "1.1"
sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
size = 77

[[extension]]
name = "hstore"
versions = ["1.8"]
build = "contrib"

[[plugin]]
name = "gen"
url = "https://plugins.example/gen.wasm"
sha256 = "3333333333333333333333333333333333333333333333333333333333333333"
`

func TestResolve(t *testing.T) {
	m := parse(t, extManifest)
	h := &hasher{files: map[string]string{"https://mirror.example/sim/1.0.tgz": "sim 1.0 bytes"}}
	res, err := Resolve(context.Background(), m, nil, Options{Hash: h.hash})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pending) != 0 {
		t.Errorf("pending: %v", res.Pending)
	}
	// Only the input no index or manifest pins was downloaded.
	if !slices.Equal(h.calls, []string{"extension/sim/1.0"}) {
		t.Errorf("hashed %v, want only extension/sim/1.0", h.calls)
	}
	l := res.Lock
	if l.Version != FormatVersion || l.Manifest != ManifestDigest(m) || l.Toolchain != "" {
		t.Errorf("header: version %d manifest %s toolchain %q", l.Version, l.Manifest, l.Toolchain)
	}
	var names []string
	for _, in := range l.Inputs {
		names = append(names, in.Name)
	}
	if want := []string{"extension/sim/1.0", "extension/sim/1.1", "plugin/gen", "postgres/15", "postgres/17"}; !slices.Equal(names, want) {
		t.Fatalf("inputs %v, want %v", names, want)
	}
	sim10, _ := l.Find("extension/sim/1.0")
	want := Input{Name: "extension/sim/1.0", Kind: KindExtension, Version: "1.0",
		URLs:   []string{"https://ext.example/sim-1.0.tar.gz", "https://mirror.example/sim/1.0.tgz"},
		SHA256: hexsum("sim 1.0 bytes"), Size: 13, StripPrefix: "sim-1.0", Apt: "source:pg-sim=1.0-1:pg-sim_1.0.orig.tar.gz"}
	if !equalInput(sim10, want) {
		t.Errorf("extension/sim/1.0 = %+v\nwant %+v", sim10, want)
	}
	if sim11, _ := l.Find("extension/sim/1.1"); sim11.SHA256 != strings.Repeat("2", 64) || sim11.Size != 77 {
		t.Errorf("extension/sim/1.1 = %+v, want the manifest's pin", sim11)
	}
	if p, _ := l.Find("plugin/gen"); p.Kind != KindPlugin || p.SHA256 != strings.Repeat("3", 64) || !slices.Equal(p.URLs, []string{"https://plugins.example/gen.wasm"}) {
		t.Errorf("plugin/gen = %+v", p)
	}
	pg15, _ := l.Find("postgres/15")
	if pg15.Version != "15.18" || pg15.SHA256 != sha1518 || pg15.Size != 23405115 || pg15.StripPrefix != "postgresql-15.18" ||
		pg15.SourceDateEpoch != 1778529797 || pg15.Apt != "source:postgresql-15=15.18-0+deb12u1:postgresql-15_15.18.orig.tar.bz2" ||
		!slices.Equal(pg15.URLs, []string{"https://ftp.postgresql.org/pub/source/v15.18/postgresql-15.18.tar.bz2",
			"https://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2"}) {
		t.Errorf("postgres/15 = %+v", pg15)
	}
	pg17, _ := l.Find("postgres/17")
	idx, _ := m.Index.Lookup(manifest.MustVersion("17.12"))
	if pg17.Version != "17.12" || pg17.SHA256 != string(idx.SHA256) || pg17.StripPrefix != "postgresql-17.12" ||
		!slices.Equal(pg17.URLs, []string{"https://ftp.postgresql.org/pub/source/v17.12/postgresql-17.12.tar.bz2",
			"https://deb.debian.org/debian/pool/main/p/postgresql-17/postgresql-17_17.12.orig.tar.bz2"}) {
		t.Errorf("postgres/17 = %+v", pg17)
	}

	// Resolving again from that lock downloads nothing and changes nothing.
	h.calls = nil
	again, err := Resolve(context.Background(), m, l, Options{Hash: h.hash})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.calls) != 0 {
		t.Errorf("second resolve hashed %v", h.calls)
	}
	a, _ := Encode(l)
	b, _ := Encode(again.Lock)
	if string(a) != string(b) {
		t.Errorf("second resolve changed the lock")
	}
}

func TestResolveHashErrors(t *testing.T) {
	m := parse(t, extManifest)
	_, err := Resolve(context.Background(), m, nil, Options{Hash: (&hasher{}).hash})
	if err == nil || err.Error() != "lock: hashing extension/sim/1.0: 404 for [https://ext.example/sim-1.0.tar.gz https://mirror.example/sim/1.0.tgz]" {
		t.Errorf("error = %v", err)
	}
	_, err = Resolve(context.Background(), m, nil, Options{})
	if err == nil || err.Error() != "lock: extension/sim/1.0 needs a download to be hashed and no downloader is set" {
		t.Errorf("error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Resolve(ctx, m, nil, Options{Hash: func(ctx context.Context, in Input) (Hashed, error) { return Hashed{}, ctx.Err() }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled hash gave %v, want context.Canceled in the chain", err)
	}
	res, err := Resolve(context.Background(), m, nil, Options{Offline: true})
	if err != nil || !slices.Equal(res.Pending, []string{"extension/sim/1.0"}) {
		t.Errorf("offline: pending %v, %v", res.Pending, err)
	}
}

// TestResolveUpdate: a spec keeps the locked minor until --update names it.
func TestResolveUpdate(t *testing.T) {
	pinned := parse(t, "[postgres]\nversions = [\"15.18\", \"17.6\"]\n")
	res, err := Resolve(context.Background(), pinned, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := res.Lock
	if in, _ := old.Find("postgres/17"); in.Version != "17.6" {
		t.Fatalf("postgres/17 = %+v", in)
	}
	spec := parse(t, "[postgres]\nversions = [\"15.18\", \"17.*\"]\n")
	kept, err := Resolve(context.Background(), spec, old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(old, kept.Lock); len(d) != 0 {
		t.Errorf("plain resolve changed inputs: %v", d)
	}
	upd, err := Resolve(context.Background(), spec, old, Options{Update: []string{"postgres/17"}})
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(old, upd.Lock)
	if len(d) != 1 || d[0].Name != "postgres/17" || d[0].Old.Version != "17.6" || d[0].New.Version != "17.12" {
		t.Fatalf("update diff = %v", d)
	}
	i176, _ := spec.Index.Lookup(manifest.MustVersion("17.6"))
	i1712, _ := spec.Index.Lookup(manifest.MustVersion("17.12"))
	want := fmt.Sprintf("• Updated 'postgres/17': 17.6 (sha256:%s…) → 17.12 (sha256:%s…)", i176.SHA256[:12], i1712.SHA256[:12])
	if d[0].String() != want {
		t.Errorf("got  %s\nwant %s", d[0], want)
	}
	// Updating one input leaves a pinned spec of another major alone.
	both := parse(t, "[postgres]\nversions = [\"16.*\", \"17.*\"]\n")
	old2, _ := Resolve(context.Background(), parse(t, "[postgres]\nversions = [\"16.3\", \"17.6\"]\n"), nil, Options{})
	upd2, err := Resolve(context.Background(), both, old2.Lock, Options{Update: []string{"postgres/17"}})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := upd2.Lock.Find("postgres/16"); in.Version != "16.3" {
		t.Errorf("postgres/16 moved to %s on --update postgres/17", in.Version)
	}
	// A lock pin the spec no longer allows is not kept.
	moved, err := Resolve(context.Background(), parse(t, "[postgres]\nversions = [\"15.18\", \">=17.7,<18\"]\n"), old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := moved.Lock.Find("postgres/17"); in.Version != "17.12" {
		t.Errorf("spec >=17.7,<18 kept the pin %s", in.Version)
	}
}

func TestResolveUpdateRehashes(t *testing.T) {
	m := parse(t, extManifest)
	h := &hasher{files: map[string]string{"https://ext.example/sim-1.0.tar.gz": "v1"}}
	res, err := Resolve(context.Background(), m, nil, Options{Hash: h.hash})
	if err != nil {
		t.Fatal(err)
	}
	h.files["https://ext.example/sim-1.0.tar.gz"] = "v1, re-rolled upstream"
	h.calls = nil
	same, _ := Resolve(context.Background(), m, res.Lock, Options{Hash: h.hash})
	if in, _ := same.Lock.Find("extension/sim/1.0"); in.SHA256 != hexsum("v1") || len(h.calls) != 0 {
		t.Errorf("without --update: %s, hashed %v", in.SHA256, h.calls)
	}
	upd, _ := Resolve(context.Background(), m, res.Lock, Options{Hash: h.hash, Update: []string{"extension/sim/1.0"}})
	if in, _ := upd.Lock.Find("extension/sim/1.0"); in.SHA256 != hexsum("v1, re-rolled upstream") || !slices.Equal(h.calls, []string{"extension/sim/1.0"}) {
		t.Errorf("with --update: %s, hashed %v", in.SHA256, h.calls)
	}
}

func TestPostgresVersions(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want string // "input=version ..."
		err  string
	}{
		{toml: `versions = ["15.18", "16.*", ">=17,<17.3"]`, want: "postgres/15=15.18 postgres/16=16.15 postgres/17=17.2"},
		{toml: `versions = ["16.99"]`, want: "postgres/16=16.99"}, // exact, unindexed: hashed by download
		{toml: `versions_all = ["17.*"]`, want: "postgres/17.0=17.0 postgres/17.1=17.1 postgres/17.2=17.2 postgres/17.3=17.3 postgres/17.4=17.4 postgres/17.5=17.5 postgres/17.6=17.6 postgres/17.7=17.7 postgres/17.8=17.8 postgres/17.9=17.9 postgres/17.10=17.10 postgres/17.11=17.11 postgres/17.12=17.12"},
		// A version selected twice keeps its first input: no duplicate cells.
		{toml: `versions = ["15.18", "18.*"]` + "\n" + `versions_all = ["15.*", ">=18"]`, want: "postgres/15=15.18 postgres/18=18.6 postgres/15.0=15.0 postgres/15.1=15.1 postgres/15.2=15.2 postgres/15.3=15.3 postgres/15.4=15.4 postgres/15.5=15.5 postgres/15.6=15.6 postgres/15.7=15.7 postgres/15.8=15.8 postgres/15.9=15.9 postgres/15.10=15.10 postgres/15.11=15.11 postgres/15.12=15.12 postgres/15.13=15.13 postgres/15.14=15.14 postgres/15.15=15.15 postgres/15.16=15.16 postgres/15.17=15.17 postgres/15.19=15.19 postgres/18.0=18.0 postgres/18.1=18.1 postgres/18.2=18.2 postgres/18.3=18.3 postgres/18.4=18.4"},
		{toml: `versions = [">=16.2,<17", "16.*"]`,
			err: `m.toml: postgres.versions[1] "16.*" resolves to input postgres/16, which postgres.versions[0] ">=16.2,<17" already selects; list several minors under postgres.versions_all`},
		{toml: `versions = ["19.*"]`,
			err: `m.toml: postgres.versions[0] "19.*" matches no known Postgres release (index has 15.0 … 18.6); add a [[postgres.release]] or fix the spec`},
		{toml: `versions = ["15.18"]` + "\n" + `versions_all = ["<15"]`,
			err: `m.toml: postgres.versions_all[0] "<15" matches no known Postgres release (index has 15.0 … 18.6); add a [[postgres.release]] or fix the spec`},
	} {
		m := parse(t, "[postgres]\n"+tc.toml+"\n")
		pgs, err := PostgresVersions(m, nil, nil)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %s", tc.toml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.toml, err)
			continue
		}
		var got []string
		for _, p := range pgs {
			got = append(got, p.Input+"="+p.Version.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.toml, strings.Join(got, " "), tc.want)
		}
	}
}

func TestManifestDigest(t *testing.T) {
	base := "[postgres]\nversions = [\"15.18\"]\n"
	d := ManifestDigest(parse(t, base))
	// What does not decide inputs does not stale the lock.
	for _, same := range []string{
		"# comment\n" + base,
		base + "option_sets = [\"regular\"]\n",
		"default = [\"postgres~*\"]\n" + base,
		base + "[options]\ninjection_points = \">=18\"\n",
	} {
		if got := ManifestDigest(parse(t, same)); got != d {
			t.Errorf("digest changed for %q", same)
		}
	}
	for _, other := range []string{
		"[postgres]\nversions = [\"15.17\"]\n",
		base + "versions_all = [\"17.*\"]\n",
		base + "targets = [\"amd64\", \"arm64\"]\n",
		base + "[[extension]]\nname = \"x\"\nversions = [\"1\"]\nbuild = \"contrib\"\n",
		base + "[toolchain]\npackages = [\"gcc\"]\n",
	} {
		if got := ManifestDigest(parse(t, other)); got == d {
			t.Errorf("digest unchanged for %q", other)
		}
	}
	tc := ToolchainDigest(parse(t, base+"[toolchain]\npackages = [\"gcc\"]\n"))
	if tc == ToolchainDigest(parse(t, base+"[toolchain]\npackages = [\"gcc\", \"make\"]\n")) {
		t.Error("toolchain digest ignores packages")
	}
	if tc != ToolchainDigest(parse(t, base+"option_sets = [\"debug\"]\n[toolchain]\npackages = [\"gcc\"]\n")) {
		t.Error("toolchain digest depends on option sets")
	}
}

func reasons(t *testing.T, m *manifest.Manifest, l *Lock) []string {
	t.Helper()
	r, _, err := Check(context.Background(), m, l)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheck(t *testing.T) {
	m := parse(t, extManifest)
	h := &hasher{files: map[string]string{"https://ext.example/sim-1.0.tar.gz": "sim"}}
	res, err := Resolve(context.Background(), m, nil, Options{Hash: h.hash})
	if err != nil {
		t.Fatal(err)
	}
	good := res.Lock
	if r := reasons(t, m, good); len(r) != 0 {
		t.Fatalf("fresh lock is stale: %v", r)
	}
	clone := func() *Lock {
		c := *good
		c.Inputs = slices.Clone(good.Inputs)
		return &c
	}
	without := func(name string) *Lock {
		c := clone()
		c.Inputs = slices.DeleteFunc(c.Inputs, func(in Input) bool { return in.Name == name })
		return c
	}

	// Edited manifest: a new extension version.
	edited := parse(t, strings.Replace(extManifest, `versions = ["1.0", "1.1"]`, `versions = ["1.0", "1.1", "1.2"]`, 1))
	r := reasons(t, edited, good)
	if len(r) != 2 || !strings.HasPrefix(r[0], "the manifest's inputs changed since the lock was written (lock has sha256:") ||
		r[1] != "input extension/sim/1.2 is not pinned in the lock" {
		t.Errorf("edited manifest: %q", r)
	}
	// An input removed from the lock by hand: index-known and download-only.
	if r := reasons(t, m, without("postgres/17")); !slices.Equal(r, []string{"input postgres/17 is not pinned in the lock"}) {
		t.Errorf("removed postgres/17: %q", r)
	}
	if r := reasons(t, m, without("extension/sim/1.0")); !slices.Equal(r, []string{"input extension/sim/1.0 is not pinned in the lock"}) {
		t.Errorf("removed extension/sim/1.0: %q", r)
	}
	// An input the manifest no longer asks for.
	dropped := parse(t, strings.Replace(extManifest, `versions = ["1.0", "1.1"]`, `versions = ["1.1"]`, 1))
	r = reasons(t, dropped, good)
	if len(r) != 2 || r[1] != "input extension/sim/1.0 is locked but the manifest no longer asks for it" {
		t.Errorf("dropped version: %q", r)
	}
	// A hand-edited sha256 of an index-known input.
	bad := clone()
	for i := range bad.Inputs {
		if bad.Inputs[i].Name == "postgres/15" {
			bad.Inputs[i].SHA256 = "00" + sha1518[2:]
		}
	}
	want := "input postgres/15: the lock says sha256 00" + sha1518[2:] + ", but monogres' built-in release index (Postgres 15.18) says " + sha1518
	if r := reasons(t, m, bad); !slices.Equal(r, []string{want}) {
		t.Errorf("hand-edited sha256: %q", r)
	}
	// A hand-edited sha256 of a manifest-pinned input, and a hand-edited size.
	bad = clone()
	for i := range bad.Inputs {
		switch bad.Inputs[i].Name {
		case "extension/sim/1.1":
			bad.Inputs[i].SHA256 = strings.Repeat("4", 64)
		case "postgres/15":
			bad.Inputs[i].Size++
		}
	}
	r = reasons(t, m, bad)
	if len(r) != 2 || r[0] != "input extension/sim/1.1: the lock says sha256 "+strings.Repeat("4", 64)+", but m.toml ([[extension.release]] version 1.1) says "+strings.Repeat("2", 64) ||
		!strings.HasPrefix(r[1], "input postgres/15: the lock says size ") || !strings.Contains(r[1], ", but monogres' built-in release index (Postgres 15.18) says ") {
		t.Errorf("hand-edited manifest pin and size: %q", r)
	}
}

func TestCheckToolchain(t *testing.T) {
	m := parse(t, "[postgres]\nversions = [\"15.18\"]\n[toolchain]\npackages = [\"gcc\"]\n")
	debs := func(ctx context.Context, m *manifest.Manifest, old *Lock) ([]Input, []Root, error) {
		return []Input{{Name: "deb/amd64/gcc", Kind: KindDeb, Arch: "amd64", SHA256: shaA, Roots: []string{"amd64"}}}, []Root{{Name: "amd64", Request: "sha256:" + shaA}}, nil
	}
	res, err := Resolve(context.Background(), m, nil, Options{Toolchain: debs})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lock.Toolchain != ToolchainDigest(m) {
		t.Errorf("toolchain digest %q", res.Lock.Toolchain)
	}
	if _, ok := res.Lock.Find("deb/amd64/gcc"); !ok {
		t.Error("toolchain packages missing")
	}
	if r := reasons(t, m, res.Lock); len(r) != 0 {
		t.Errorf("fresh lock stale: %v", r)
	}
	// Unchanged toolchain: the resolver is not called, the old packages stay.
	kept, err := Resolve(context.Background(), m, res.Lock, Options{Toolchain: func(context.Context, *manifest.Manifest, *Lock) ([]Input, []Root, error) {
		return nil, nil, errors.New("must not be called")
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kept.Lock.Find("deb/amd64/gcc"); !ok || len(kept.Lock.Roots) != 1 || kept.Lock.Roots[0].Name != "amd64" {
		t.Errorf("toolchain packages or roots dropped: %v", kept.Lock.Roots)
	}
	// Same manifest, but a layer's request is derived differently now (as
	// when an extension's per-target packages replace its all-target
	// ones): lock resolves again where it would have said up to date.
	called := false
	if _, err := Resolve(context.Background(), m, res.Lock, Options{RootRequests: map[string]string{"amd64": "sha256:" + shaB},
		Toolchain: func(ctx context.Context, m *manifest.Manifest, old *Lock) ([]Input, []Root, error) {
			called = true
			return debs(ctx, m, old)
		}}); err != nil || !called {
		t.Errorf("a changed layer request did not re-resolve the toolchain (called %v): %v", called, err)
	}
	if _, err := Resolve(context.Background(), m, res.Lock, Options{RootRequests: map[string]string{"amd64": "sha256:" + shaA},
		Toolchain: func(context.Context, *manifest.Manifest, *Lock) ([]Input, []Root, error) {
			return nil, nil, errors.New("must not be called")
		}}); err != nil {
		t.Errorf("unchanged layer requests re-resolved the toolchain: %v", err)
	}
	m2 := parse(t, "[postgres]\nversions = [\"15.18\"]\n[toolchain]\npackages = [\"gcc\", \"make\"]\n")
	r := reasons(t, m2, res.Lock)
	if len(r) != 2 || r[1] != "the toolchain request changed: its Debian packages must be resolved again" {
		t.Errorf("changed toolchain: %q", r)
	}
	if _, err := Resolve(context.Background(), m2, res.Lock, Options{}); err == nil || err.Error() != "lock: the toolchain needs resolving and no resolver is set" {
		t.Errorf("no resolver: %v", err)
	}
}
