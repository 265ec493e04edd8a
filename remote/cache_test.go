package remote_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/remote"
	"github.com/monogres/monogres/remote/remotetest"
	"github.com/monogres/monogres/toolchains"
)

// machine is one builder or consumer: its own store and remote cache view.
type machine struct {
	st    *store.Store
	cache *remote.Cache
	warns []string
	mu    sync.Mutex
}

func newMachine(t *testing.T, url string, signer *keys.PrivateKey, trusted ...keys.PublicKey) *machine {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{st: st}
	m.cache = &remote.Cache{Client: c, Trusted: keys.NewRing(trusted...), Signer: signer, Warn: func(s string) {
		m.mu.Lock()
		m.warns = append(m.warns, s)
		m.mu.Unlock()
	}}
	return m
}

func (m *machine) warnings() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.warns...)
}

func genKey(t *testing.T, name string) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// result puts a package, its manifest and a log for cell into st and
// returns the action cache entry a build records.
func result(t *testing.T, st *store.Store, cell, key string, pkg []byte) build.ACEntry {
	t.Helper()
	ctx := context.Background()
	put := func(b []byte) (string, int64) {
		w, err := st.Create(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		sha, size, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		return sha, size
	}
	p, size := put(pkg)
	m, _ := put(build.EncodeManifest(&build.Manifest{Format: build.ManifestFormat, Cell: cell, ActionKey: key, Package: p, Size: size}))
	log := build.LogPath(st, key)
	os.MkdirAll(filepath.Dir(log), 0o755)
	if err := os.WriteFile(log, []byte("built "+cell+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return build.ACEntry{Cell: cell, ActionKey: key, Package: p, Manifest: m, Log: log}
}

var key1 = strings.Repeat("1", 64)

const cell1 = "postgres~15.18~barebones~amd64"

// TestRoundTrip: a builder's result, uploaded to a real nginx WebDAV cache,
// is found by another machine with an empty store that trusts the
// builder's key; the blobs arrive byte-identical; the log comes along.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, bytes.Repeat([]byte("package "), 100000))
	a.cache.Record(ctx, a.st, ent)
	if a.cache.Uploaded.Load() != 1 || len(a.warnings()) != 0 {
		t.Fatalf("uploaded %d, warnings %q", a.cache.Uploaded.Load(), a.warnings())
	}
	b := newMachine(t, srv.URL, nil, k.Public())
	got, ok := b.cache.Lookup(ctx, b.st, cell1, key1)
	if !ok {
		t.Fatalf("no hit: %q", b.warnings())
	}
	if got.Package != ent.Package || got.Manifest != ent.Manifest {
		t.Fatalf("got %+v, want %+v", got, ent)
	}
	for _, sha := range []string{ent.Package, ent.Manifest} {
		x, _ := os.ReadFile(a.st.Path(sha))
		y, err := os.ReadFile(b.st.Path(sha))
		if err != nil || !bytes.Equal(x, y) {
			t.Fatalf("blob %s differs between the machines (%v)", sha, err)
		}
	}
	if l, err := os.ReadFile(got.Log); err != nil || string(l) != "built "+cell1+"\n" {
		t.Fatalf("log %q: %q %v", got.Log, l, err)
	}
	// A second upload of the same result sends only the entry: the blobs
	// are there (HEAD).
	before := len(srv.Requests())
	a.cache.Record(ctx, a.st, ent)
	var puts []string
	for _, r := range srv.Requests()[before:] {
		if strings.HasPrefix(r, "PUT") {
			puts = append(puts, r)
		}
	}
	if len(puts) != 1 || !strings.Contains(puts[0], "/ac/"+key1) {
		t.Fatalf("second upload sent %q, want only the ac entry (all: %q)", puts, srv.Requests())
	}
}

// TestOffer: a local hit the cache lacks is uploaded (a builder with a
// warm store fills an empty cache); one the cache has an entry for is
// left alone, even when another key signed that entry.
func TestOffer(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k, other := genKey(t, "ci"), genKey(t, "other")
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, []byte("package"))
	a.cache.Offer(ctx, a.st, ent)
	a.cache.Offer(ctx, a.st, ent)
	if a.cache.Uploaded.Load() != 1 || len(a.warnings()) != 0 {
		t.Fatalf("uploaded %d, warnings %q", a.cache.Uploaded.Load(), a.warnings())
	}
	b := newMachine(t, srv.URL, nil, k.Public())
	if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); !ok {
		t.Fatalf("the offered hit is not in the cache: %q", b.warnings())
	}
	o := newMachine(t, srv.URL, other)
	o.cache.Offer(ctx, a.st, ent)
	if o.cache.Uploaded.Load() != 0 {
		t.Fatal("an entry the cache has was overwritten by an offer")
	}
	if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); !ok {
		t.Fatalf("entry lost: %q", b.warnings())
	}
	// Read-only: nothing is asked.
	before := len(srv.Requests())
	ro := newMachine(t, srv.URL, k)
	ro.cache.ReadOnly = true
	ro.cache.Offer(ctx, a.st, result(t, a.st, cell1, strings.Repeat("2", 64), []byte("p2")))
	if n := len(srv.Requests()) - before; n != 0 {
		t.Fatalf("a read-only offer sent %d requests", n)
	}
}

// TestProbe: a dry run's check finds an entry signed by a trusted key
// without downloading a blob, refuses an untrusted one, and a stopped
// cache is one warning.
func TestProbe(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	a := newMachine(t, srv.URL, k)
	a.cache.Record(ctx, a.st, result(t, a.st, cell1, key1, []byte("package")))
	b := newMachine(t, srv.URL, nil, k.Public())
	before := len(srv.Requests())
	if ok, err := b.cache.Probe(ctx, cell1, key1); !ok || err != nil {
		t.Fatalf("probe of a trusted entry: %v %v", ok, err)
	}
	if r := srv.Requests()[before:]; len(r) != 1 || !strings.HasPrefix(r[0], "GET /ac/"+key1) {
		t.Fatalf("probe sent %q, want only the entry's GET", r)
	}
	if ok, err := b.cache.Probe(ctx, cell1, strings.Repeat("3", 64)); ok || err != nil {
		t.Fatalf("probe of an absent entry: %v %v", ok, err)
	}
	if ok, err := b.cache.Probe(ctx, "numeral~1.3~"+cell1, key1); ok || err == nil {
		t.Fatalf("probe of another cell's entry: %v %v", ok, err)
	}
	u := newMachine(t, srv.URL, nil, genKey(t, "mallory").Public())
	if ok, err := u.cache.Probe(ctx, cell1, key1); ok || err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("probe with an untrusted signer: %v %v", ok, err)
	}
	srv.Stop()
	for range 3 {
		if ok, _ := b.cache.Probe(ctx, cell1, key1); ok {
			t.Fatal("probe hit on a stopped cache")
		}
	}
	if w := b.warnings(); len(w) != 1 || !strings.Contains(w[0], "unusable") {
		t.Fatalf("warnings %q", w)
	}
	if b.cache.Hits.Load()+b.cache.Misses.Load()+b.cache.Refused.Load() != 0 {
		t.Fatal("probes were counted")
	}
}

// TestRefused: each forged or damaged entry is refused with a message
// saying why, nothing it names is stored, and the lookup is a miss (the
// engine builds locally).
func TestRefused(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, []byte("the real package"))
	c, _ := remote.NewClient(srv.URL)

	good, err := os.ReadFile(srv.Path("ac/" + key1))
	if err == nil {
		t.Fatal("entry present before upload")
	}
	a.cache.Record(ctx, a.st, ent)
	if good, err = os.ReadFile(srv.Path("ac/" + key1)); err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	json.Unmarshal(good, &env)
	payload, _ := env.DecodeB64Payload()

	other := genKey(t, "mallory")
	evil := []byte("an evil package of the same size")[:len("the real package")]
	cases := []struct {
		name, want string
		setup      func()
	}{
		{"tampered package blob", "does not match the digest and size", func() {
			os.WriteFile(srv.Path("cas/"+ent.Package), evil, 0o644)
		}},
		{"package blob of another size", "does not match the digest and size", func() {
			os.WriteFile(srv.Path("cas/"+ent.Package), []byte("short"), 0o644)
		}},
		{"missing package blob", "does not match the digest and size", func() {
			os.Remove(srv.Path("cas/" + ent.Package))
		}},
		{"tampered entry", "it was altered", func() {
			var e remote.Entry
			json.Unmarshal(payload, &e)
			e.Package.Hash = strings.Repeat("e", 64)
			p, _ := json.Marshal(e)
			forged := env
			forged.Payload = base64.StdEncoding.EncodeToString(p)
			b, _ := json.Marshal(forged)
			c.PutAC(ctx, key1, b)
		}},
		{"unsigned entry", "unsigned", func() {
			forged := env
			forged.Signatures = nil
			b, _ := json.Marshal(forged)
			c.PutAC(ctx, key1, b)
		}},
		{"unknown key", "not trusted", func() {
			var e remote.Entry
			json.Unmarshal(payload, &e)
			b, _ := remote.Sign(e, other)
			c.PutAC(ctx, key1, b)
		}},
		{"entry of another action", "not " + key1, func() {
			var e remote.Entry
			json.Unmarshal(payload, &e)
			e.ActionKey = strings.Repeat("2", 64)
			b, _ := remote.Sign(e, k)
			c.PutAC(ctx, key1, b)
		}},
		{"not an entry", "not a signed monogres entry", func() {
			c.PutAC(ctx, key1, []byte("\n\x0a\x20bazel ActionResult"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.cache.Record(ctx, a.st, ent) // the good entry and blobs back
			os.WriteFile(srv.Path("cas/"+ent.Package), []byte("the real package"), 0o644)
			tc.setup()
			b := newMachine(t, srv.URL, nil, k.Public())
			if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); ok {
				t.Fatal("hit")
			}
			w := b.warnings()
			if len(w) != 1 || !strings.Contains(w[0], tc.want) || !strings.Contains(w[0], "building it locally") {
				t.Fatalf("warnings %q, want one saying %q", w, tc.want)
			}
			if b.st.Has(ent.Package) || b.st.Has(strings.Repeat("e", 64)) {
				t.Fatal("a refused entry's blob entered the store")
			}
			if b.cache.Refused.Load() != 1 {
				t.Fatalf("refused %d", b.cache.Refused.Load())
			}
		})
	}
}

// TestDown: a cache that is not there (connection refused) gives one
// warning for the whole run and no hit; a read-only cache (PUT refused)
// gives one warning and is still read.
func TestDown(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, []byte("pkg"))
	srv.Stop()
	for range 3 {
		if _, ok := a.cache.Lookup(ctx, a.st, cell1, key1); ok {
			t.Fatal("hit from a stopped cache")
		}
		a.cache.Record(ctx, a.st, ent)
	}
	if w := a.warnings(); len(w) != 1 || !strings.Contains(w[0], "unusable") || !strings.Contains(w[0], "building locally") {
		t.Fatalf("warnings %q", w)
	}

	ro := remotetest.Nginx(t, remotetest.Options{ReadOnly: true})
	os.MkdirAll(ro.Path("ac"), 0o755)
	b := newMachine(t, ro.URL, k, k.Public())
	for range 2 {
		b.cache.Record(ctx, a.st, ent)
	}
	if w := b.warnings(); len(w) != 1 || !strings.Contains(w[0], "refuses uploads") {
		t.Fatalf("warnings %q", w)
	}
	// Published by hand (as a read-write builder would): still read.
	doc, _ := remote.Sign(remote.Entry{Cell: cell1, ActionKey: key1,
		Package:  remote.Digest{Hash: ent.Package, SizeBytes: 3},
		Manifest: remote.Digest{Hash: ent.Manifest, SizeBytes: mustSize(t, a.st, ent.Manifest)}}, k)
	os.WriteFile(ro.Path("ac/"+key1), doc, 0o644)
	os.MkdirAll(ro.Path("cas"), 0o755)
	for _, sha := range []string{ent.Package, ent.Manifest} {
		x, _ := os.ReadFile(a.st.Path(sha))
		os.WriteFile(ro.Path("cas/"+sha), x, 0o644)
	}
	if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); !ok {
		t.Fatalf("a read-only cache is not read: %q", b.warnings())
	}
}

func mustSize(t *testing.T, st *store.Store, sha string) int64 {
	n, ok := st.Size(sha)
	if !ok {
		t.Fatal("no blob", sha)
	}
	return n
}

// TestCredentials: a cache behind basic auth is used with the netrc entry
// of its host; without it, one warning; credentials never in messages.
func TestCredentials(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{User: "ci", Password: "s3cret-pw"})
	k := genKey(t, "ci")
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, []byte("pkg"))
	a.cache.Record(ctx, a.st, ent)
	if w := a.warnings(); len(w) != 1 || !strings.Contains(w[0], "401") {
		t.Fatalf("without credentials: warnings %q", w)
	}
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine other login x password y\nmachine 127.0.0.1\n  login ci\n  password s3cret-pw\n"), 0o600)
	t.Setenv("NETRC", netrc)
	b := newMachine(t, srv.URL, k, k.Public())
	b.cache.Record(ctx, a.st, ent)
	if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); !ok || len(b.warnings()) != 0 {
		t.Fatalf("with netrc: hit %v, warnings %q", ok, b.warnings())
	}
	if _, err := remote.NewClient("http://ci:s3cret-pw@127.0.0.1:1/"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a URL with credentials: %v", err)
	}
	for _, w := range append(a.warnings(), b.warnings()...) {
		if strings.Contains(w, "s3cret") {
			t.Fatalf("a message shows the password: %q", w)
		}
	}
}

// countingExecutor installs a file as each build's output and counts the
// sandboxes it would have started.
type countingExecutor struct{ n atomic.Int64 }

func (x *countingExecutor) Execute(ctx context.Context, e build.Execution) error {
	x.n.Add(1)
	for _, m := range e.Mounts {
		if m.Target == build.OutDir {
			p := filepath.Join(m.Source, "root/usr/local/pgsql/bin/postgres")
			os.MkdirAll(filepath.Dir(p), 0o755)
			return os.WriteFile(p, []byte(e.Argv[len(e.Argv)-1]), 0o755)
		}
	}
	return nil
}

// TestEngineSubstitutes: through build.Config.Remote, a cell built on one
// machine is a cached cell on another with an empty action cache, with no
// action executed and the same package bytes; RemoteOnly fails a cell the
// cache lacks instead of building it.
func TestEngineSubstitutes(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	src := srcArchive(t)
	cell := build.Cell{Name: cell1, PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: "amd64",
		Source: lock.Input{Name: "postgres/15.18", StripPrefix: "postgresql-15.18", SourceDateEpoch: 1700000000}}
	run := func(m *machine, only bool) (build.Result, int64) {
		sha, size, err := m.st.AddFile(ctx, src)
		if err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		cell.Source.SHA256, cell.Source.Size = sha, size
		x := &countingExecutor{}
		res, _ := build.Build(ctx, build.Config{Store: m.st, Executor: x, SkipSmoke: true, Remote: m.cache, RemoteOnly: only,
			Toolchain: func(context.Context, toolchains.Cell) (build.Toolchain, error) {
				return build.Toolchain{Dir: "/nonexistent", Digest: strings.Repeat("b", 64)}, nil
			}}, []build.Cell{cell})
		return res[0], x.n.Load()
	}
	a := newMachine(t, srv.URL, k)
	ra, n := run(a, false)
	if ra.State != event.StateBuilt || n != 1 || a.cache.Uploaded.Load() != 1 {
		t.Fatalf("builder: %s (%v), %d actions, %d uploads", ra.State, ra.Err, n, a.cache.Uploaded.Load())
	}
	b := newMachine(t, srv.URL, nil, k.Public())
	rb, n := run(b, true)
	if rb.State != event.StateCached || n != 0 || rb.Package != ra.Package {
		t.Fatalf("consumer: %s (%v), %d actions, package %s want %s", rb.State, rb.Err, n, rb.Package, ra.Package)
	}
	// Now a local hit: the remote cache is not asked again.
	before := len(srv.Requests())
	if rb, n = run(b, true); rb.State != event.StateCached || n != 0 || len(srv.Requests()) != before {
		t.Fatalf("second run: %s, %d actions, %d requests", rb.State, n, len(srv.Requests())-before)
	}
	c := newMachine(t, srv.URL, nil) // trusts no key
	if rc, n := run(c, true); rc.State != event.StateFailed || n != 0 || !strings.Contains(rc.Err.Error(), "neither the local nor the remote cache") {
		t.Fatalf("untrusting consumer, substitution only: %s (%v), %d actions", rc.State, rc.Err, n)
	}
	if rc, n := run(c, false); rc.State != event.StateBuilt || n != 1 || rc.Package != ra.Package {
		t.Fatalf("untrusting consumer: %s (%v), %d actions", rc.State, rc.Err, n)
	}
}

func srcArchive(t *testing.T) string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := "postgres source"
	tw.WriteHeader(&tar.Header{Name: "postgresql-15.18/README", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "postgresql-15.18.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRepair: a builder that refused a blob the cache served wrong, then
// built the cell itself, uploads the blob again (HEAD saying the cache has
// it is not believed), so the next machine gets a hit.
func TestRepair(t *testing.T) {
	ctx := context.Background()
	srv := remotetest.Nginx(t, remotetest.Options{})
	k := genKey(t, "ci")
	a := newMachine(t, srv.URL, k)
	ent := result(t, a.st, cell1, key1, []byte("the real package"))
	a.cache.Record(ctx, a.st, ent)
	os.WriteFile(srv.Path("cas/"+ent.Package), []byte("the evil package"), 0o644)
	b := newMachine(t, srv.URL, k, k.Public())
	if _, ok := b.cache.Lookup(ctx, b.st, cell1, key1); ok {
		t.Fatal("hit on a tampered blob")
	}
	// b builds the cell: the same bytes (reproducible builds).
	rebuilt := result(t, b.st, cell1, key1, []byte("the real package"))
	b.cache.Record(ctx, b.st, rebuilt)
	c := newMachine(t, srv.URL, nil, k.Public())
	if _, ok := c.cache.Lookup(ctx, c.st, cell1, key1); !ok {
		t.Fatalf("the cache was not repaired: %q", c.warnings())
	}
}

// TestSlow: a cache that does not answer within the client's timeout is
// given up after one warning; the lookups after it cost nothing.
func TestSlow(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	m := newMachine(t, srv.URL, nil)
	m.cache.Client.Timeout = 200 * time.Millisecond
	start := time.Now()
	for range 5 {
		if _, ok := m.cache.Lookup(ctx, m.st, cell1, key1); ok {
			t.Fatal("hit")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("5 lookups against a hanging cache took %v", d)
	}
	if w := m.warnings(); len(w) != 1 || !strings.Contains(w[0], "unusable") {
		t.Fatalf("warnings %q", w)
	}
}
