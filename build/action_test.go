package build

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/toolchains"
)

var update = flag.Bool("update", false, "rewrite golden files")

var rootDigest = strings.Repeat("b", 64)

func TestActionGolden(t *testing.T) {
	a, err := NewAction(testCell(15, "amd64"), rootDigest, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	got := append(a.Encode(), '\n')
	golden := filepath.Join("testdata", "action-15-barebones-amd64.json")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("canonical action encoding changed (bump RecipeVersion if the build output changes; go test -update to rewrite) (-want +got):\n%s", d)
	}
}

func TestActionKey(t *testing.T) {
	key := func(c Cell, root string, sde int64) string {
		a, err := NewAction(c, root, sde)
		if err != nil {
			t.Fatal(err)
		}
		return a.Key()
	}
	base := testCell(15, "amd64", "zlib")
	k := key(base, rootDigest, 1)
	if k != key(testCell(15, "amd64", "zlib"), rootDigest, 1) {
		t.Fatal("same action, different keys")
	}
	otherSrc := testCell(15, "amd64", "zlib")
	otherSrc.Source.SHA256 = strings.Repeat("c", 64)
	otherStrip := testCell(15, "amd64", "zlib")
	otherStrip.Source.StripPrefix = "x"
	variants := map[string]string{
		"options":      key(testCell(15, "amd64", "zlib", "nls"), rootDigest, 1),
		"arch":         key(testCell(15, "arm64", "zlib"), rootDigest, 1),
		"major/recipe": key(testCell(16, "amd64", "zlib"), rootDigest, 1),
		"root":         key(base, strings.Repeat("d", 64), 1),
		"epoch":        key(base, rootDigest, 2),
		"source":       key(otherSrc, rootDigest, 1),
		"strip prefix": key(otherStrip, rootDigest, 1),
	}
	seen := map[string]string{k: "base"}
	for name, v := range variants {
		if prev, ok := seen[v]; ok {
			t.Errorf("changing %s gives the key of %s", name, prev)
		}
		seen[v] = name
	}
	if _, err := NewAction(base, "", 1); err == nil {
		t.Error("NewAction accepted an empty root digest")
	}
}

// cachedStore records a finished action for cell c, as a real build would.
func cachedStore(t testing.TB, c Cell) (*store.Store, Action) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(b string) string {
		w, err := st.Create(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(b))
		sha, _, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	c.Source.SHA256 = put("source archive bytes")
	a, err := NewAction(c, rootDigest, c.Source.SourceDateEpoch)
	if err != nil {
		t.Fatal(err)
	}
	e := ACEntry{Cell: c.Name, ActionKey: a.Key(), Package: put("package"), Manifest: put(`{"format":1}`), Log: "/x.log"}
	if err := Record(st, e); err != nil {
		t.Fatal(err)
	}
	return st, a
}

// TestCacheHitStartsNoSandbox: a cached cell is served from the action
// cache with a toolchain root that does not exist, so any sandbox start
// would fail.
func TestCacheHitStartsNoSandbox(t *testing.T) {
	c := testCell(15, "amd64")
	c.Source.SourceDateEpoch = 1700000000
	st, a := cachedStore(t, c)
	c.Source.SHA256 = a.Inputs[0].SHA256
	var kinds []event.Kind
	out := t.TempDir()
	cfg := Config{
		Store:  st,
		OutDir: out,
		Toolchain: func(context.Context, toolchains.Cell) (Toolchain, error) {
			return Toolchain{Dir: "/nonexistent/root", Digest: rootDigest}, nil
		},
		Sink: event.Func(func(e event.Event) { kinds = append(kinds, e.Kind) }),
	}
	start := time.Now()
	res, err := Build(context.Background(), cfg, []Cell{c})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cache hit in %v", time.Since(start))
	r := res[0]
	if r.State != event.StateCached || r.ActionKey != a.Key() {
		t.Fatalf("result %+v, want cached %s", r, a.Key())
	}
	if slices.Contains(kinds, event.Started) {
		t.Errorf("events %v include a Started (a build began)", kinds)
	}
	if b, err := os.ReadFile(filepath.Join(out, c.Name+".tar.zst")); err != nil || string(b) != "package" {
		t.Errorf("out/%s.tar.zst: %q %v", c.Name, b, err)
	}

	// A cache entry whose package blob is gone is no hit.
	os.Chmod(filepath.Dir(st.Path(r.Package)), 0o755)
	if err := os.Remove(st.Path(r.Package)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := Lookup(st, a.Key()); ok || err != nil {
		t.Errorf("Lookup after the package vanished: hit %v err %v", ok, err)
	}
	// A torn entry is no hit and is removed.
	os.WriteFile(filepath.Join(st.ACDir(), a.Key()+".json"), []byte("{"), 0o644)
	if _, ok, _ := Lookup(st, a.Key()); ok {
		t.Error("torn entry is a hit")
	}
}

func TestBuildErrors(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tc := func(context.Context, toolchains.Cell) (Toolchain, error) {
		return Toolchain{Dir: "/nonexistent", Digest: rootDigest}, nil
	}
	c := testCell(15, "amd64")
	c.Source.SourceDateEpoch = 1
	b := ExtensionCell("demo~1~"+c.Name, c, c.Source, Extension{Name: "demo"})
	res, err := Build(context.Background(), Config{Store: st, Toolchain: tc, KeepGoing: true}, []Cell{c, b})
	if err == nil || !strings.Contains(err.Error(), "is not in the store") || !strings.Contains(err.Error(), "monogres fetch") {
		t.Errorf("missing source: %v", err)
	}
	if res[1].State != event.StateFailed || !strings.Contains(res[1].Err.Error(), "dependency "+c.Name+" failed") {
		t.Errorf("dependent cell: %+v", res[1])
	}
	if _, err := Build(context.Background(), Config{Store: st, Toolchain: tc}, []Cell{c, c}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate cell: %v", err)
	}
	if _, err := Build(context.Background(), Config{Toolchain: tc}, []Cell{c}); err == nil {
		t.Error("nil store accepted")
	}
}

// BenchmarkCacheHit measures a no-op build of one cached cell (target: a
// second `monogres build` under 2 s).
func BenchmarkCacheHit(b *testing.B) {
	c := testCell(15, "amd64")
	c.Source.SourceDateEpoch = 1700000000
	st, a := cachedStore(b, c)
	c.Source.SHA256 = a.Inputs[0].SHA256
	cfg := Config{Store: st, OutDir: b.TempDir(), Toolchain: func(context.Context, toolchains.Cell) (Toolchain, error) {
		return Toolchain{Dir: "/nonexistent", Digest: rootDigest}, nil
	}}
	b.ResetTimer()
	for b.Loop() {
		res, err := Build(context.Background(), cfg, []Cell{c})
		if err != nil || res[0].State != event.StateCached {
			b.Fatal(err, res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/build")
}
