package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func blob(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func newStore(t testing.TB) *store.Store {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func input(name string, data []byte, urls ...string) lock.Input {
	return lock.Input{Name: name, Kind: lock.KindPostgres, URLs: urls, SHA256: sum(data), Size: int64(len(data))}
}

// recorder is an event.Sink keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Emit(e event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) logs(item string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		if e.Item == item && e.Kind == event.Log {
			b.WriteString(e.Line + "\n")
		}
	}
	return b.String()
}

// server records requests and serves handlers per path.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	ranges map[string][]string // path -> Range headers seen ("" = none)
}

func newServer(t *testing.T, routes map[string]http.HandlerFunc) *server {
	s := &server{ranges: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges[r.URL.Path] = append(s.ranges[r.URL.Path], r.Header.Get("Range"))
		s.mu.Unlock()
		h, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges[path]...)
}

func serve(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}

// dropOnce sends the headers of the full body and half of it on the first
// request, then kills the connection; later requests are served normally
// (with Range support unless ignoreRange).
func dropOnce(data []byte, ignoreRange bool) http.HandlerFunc {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(200)
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		if ignoreRange {
			r.Header.Del("Range")
		}
		serve(data)(w, r)
	}
}

func fetcher(s *store.Store) *Fetcher {
	return &Fetcher{Store: s, Jobs: 4, Backoff: 10 * time.Millisecond, IdleTimeout: 2 * time.Second}
}

func TestFetchBasicAndProgress(t *testing.T) {
	data := blob(3<<20, 1)
	srv := newServer(t, map[string]http.HandlerFunc{"/a.tar.gz": serve(data)})
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Sink = rec
	in := input("postgres/1", data, srv.URL+"/a.tar.gz")
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if !st.Has(in.SHA256) {
		t.Fatal("not stored")
	}
	var last, overall event.Event
	var finished bool
	for _, e := range rec.events {
		if e.Phase != event.PhaseFetch {
			t.Errorf("event phase %q", e.Phase)
		}
		switch {
		case e.Kind == event.Progress && e.Item == in.Name:
			last = e
		case e.Kind == event.Progress && e.Item == "":
			overall = e
		case e.Kind == event.Finished && e.Item == in.Name:
			finished = e.State == event.StateFetched
		}
	}
	if last.Unit != "bytes" || last.Done != in.Size || last.Total != in.Size {
		t.Errorf("last progress %+v", last)
	}
	if overall.Done != in.Size || overall.Total != in.Size {
		t.Errorf("overall progress %+v", overall)
	}
	if !finished {
		t.Error("no Finished(fetched) event")
	}
	// Second fetch: no request at all.
	before := len(srv.requests("/a.tar.gz"))
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if len(srv.requests("/a.tar.gz")) != before {
		t.Error("second fetch hit the network")
	}
}

func TestSlowServer(t *testing.T) {
	data := blob(256<<10, 2)
	srv := newServer(t, map[string]http.HandlerFunc{"/slow": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		for i := 0; i < len(data); i += 16 << 10 {
			w.Write(data[i:min(i+16<<10, len(data))])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond) // 1.6 s in all, each gap < IdleTimeout
		}
	}})
	st := newStore(t)
	f := fetcher(st)
	f.IdleTimeout = 500 * time.Millisecond
	in := input("slow", data, srv.URL+"/slow")
	start := time.Now()
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests("/slow"); len(got) != 1 {
		t.Errorf("slow but moving server was retried: %v", got)
	}
	t.Logf("slow download took %v", time.Since(start))
}

func TestStalledServerResumes(t *testing.T) {
	data := blob(1<<20, 3)
	var n atomic.Int32
	srv := newServer(t, map[string]http.HandlerFunc{"/stall": func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:300<<10])
			w.(http.Flusher).Flush()
			select { // stall until the client gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		serve(data)(w, r)
	}})
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Sink = rec
	f.IdleTimeout = 300 * time.Millisecond
	in := input("stall", data, srv.URL+"/stall")
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	got := srv.requests("/stall")
	if len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", 300<<10) {
		t.Errorf("requests' Range headers = %q", got)
	}
	if !strings.Contains(rec.logs("stall"), "no data received within the idle timeout") {
		t.Errorf("logs:\n%s", rec.logs("stall"))
	}
}

func TestDroppedConnectionResumesWithRange(t *testing.T) {
	data := blob(2<<20, 4)
	srv := newServer(t, map[string]http.HandlerFunc{"/drop": dropOnce(data, false)})
	st := newStore(t)
	in := input("drop", data, srv.URL+"/drop")
	if err := fetcher(st).Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	got := srv.requests("/drop")
	if len(got) != 2 || got[0] != "" || got[1] != fmt.Sprintf("bytes=%d-", len(data)/2) {
		t.Errorf("Range headers = %q, want none then bytes=%d-", got, len(data)/2)
	}
	if _, err := st.Verify(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

func TestResumeAcrossRuns(t *testing.T) {
	data := blob(2<<20, 5)
	srv := newServer(t, map[string]http.HandlerFunc{"/drop": dropOnce(data, false)})
	st := newStore(t)
	in := input("drop", data, srv.URL+"/drop")
	f := fetcher(st)
	f.Retries = -1
	err := f.Fetch(context.Background(), []lock.Input{in})
	if err == nil {
		t.Fatal("first run without retries succeeded")
	}
	t.Logf("first run: %v", err)
	partial := filepath.Join(st.TmpDir(), in.SHA256+".partial")
	if fi, err := os.Stat(partial); err != nil || fi.Size() != int64(len(data)/2) {
		t.Fatalf("partial file: %v %v", fi, err)
	}
	// A new Fetcher (a new `monogres fetch`) resumes from the partial file.
	if err := fetcher(st).Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests("/drop"); len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", len(data)/2) {
		t.Errorf("Range headers = %q", got)
	}
}

func TestServerIgnoresRange(t *testing.T) {
	data := blob(1<<20, 6)
	srv := newServer(t, map[string]http.HandlerFunc{"/norange": dropOnce(data, true)})
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Sink = rec
	in := input("norange", data, srv.URL+"/norange")
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.logs("norange"), "ignored the Range request; restarting from byte 0") {
		t.Errorf("logs:\n%s", rec.logs("norange"))
	}
}

func Test404ThenMirror(t *testing.T) {
	data := blob(100<<10, 7)
	origin := newServer(t, map[string]http.HandlerFunc{}) // 404 for everything
	mirror := newServer(t, map[string]http.HandlerFunc{"/pub/x.tar.gz": serve(data)})
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Sink = rec
	// The mirror rewrite of the first URL 404s too; the second locked URL's
	// rewrite serves it.
	f.Mirrors = []Mirror{{From: origin.URL + "/dist/", To: mirror.URL + "/pub/"}}
	in := input("m", data, origin.URL+"/gone/x.tar.gz", origin.URL+"/dist/x.tar.gz")
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if n := len(origin.requests("/gone/x.tar.gz")); n != 1 {
		t.Errorf("404 was retried: %d requests", n)
	}
	if n := len(origin.requests("/dist/x.tar.gz")); n != 0 {
		t.Errorf("original URL tried before its mirror: %d requests", n)
	}
	if !strings.Contains(rec.logs("m"), "from "+mirror.URL+"/pub/x.tar.gz") {
		t.Errorf("logs:\n%s", rec.logs("m"))
	}
}

func TestTransient5xxRetried(t *testing.T) {
	data := blob(10<<10, 8)
	var n atomic.Int32
	srv := newServer(t, map[string]http.HandlerFunc{"/flaky": func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serve(data)(w, r)
	}})
	st := newStore(t)
	in := input("flaky", data, srv.URL+"/flaky")
	if err := fetcher(st).Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
}

func assertNothingStored(t *testing.T, st *store.Store) {
	t.Helper()
	if l, _ := st.List(); len(l) != 0 {
		t.Errorf("cas/ holds %v", l)
	}
	ents, _ := os.ReadDir(st.TmpDir())
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("tmp/ holds %s", e.Name())
		}
	}
}

func TestWrongBytesMismatch(t *testing.T) {
	good := blob(50<<10, 9)
	evil := blob(50<<10, 10)
	srv := newServer(t, map[string]http.HandlerFunc{"/p.tar.bz2": serve(evil)})
	st := newStore(t)
	in := input("postgres/15.18", good, srv.URL+"/p.tar.bz2")
	err := fetcher(st).Fetch(context.Background(), []lock.Input{in})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	want := fmt.Sprintf(`verifying postgres/15.18: checksum mismatch
	source:        %s/p.tar.bz2
	downloaded:    sha256:%s (51200 bytes)
	monogres.lock: sha256:%s (51200 bytes)

SECURITY ERROR
This download does NOT match the one recorded in monogres.lock.
The bytes may have been replaced on the server or mirror (a re-rolled
release), or an attacker may have intercepted the download. Nothing was
stored.

If you updated the input on purpose, run `+"`monogres lock --update postgres/15.18`"+`.
Otherwise, try another mirror or report it to the input's publisher.`, srv.URL, sum(evil), sum(good))
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}
	if n := len(srv.requests("/p.tar.bz2")); n != 1 {
		t.Errorf("mismatch retried: %d requests", n)
	}
	assertNothingStored(t, st)
	// A longer body than the locked size is cut off, and also nothing stored.
	srv2 := newServer(t, map[string]http.HandlerFunc{"/long": func(w http.ResponseWriter, r *http.Request) {
		w.Write(append(append([]byte{}, good...), good...)) // chunked, no Content-Length
	}})
	in2 := input("long", good, srv2.URL+"/long")
	err = fetcher(st).Fetch(context.Background(), []lock.Input{in2})
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "downloaded:    more than 51200 bytes") {
		t.Fatalf("long body: %v", err)
	}
	assertNothingStored(t, st)
}

func TestRedirectLoop(t *testing.T) {
	var srv *server
	srv = newServer(t, map[string]http.HandlerFunc{
		"/a": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) },
		"/b": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/a", http.StatusFound) },
	})
	st := newStore(t)
	in := input("loop", []byte("x"), srv.URL+"/a")
	err := fetcher(st).Fetch(context.Background(), []lock.Input{in})
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.requests("/a")); n > 6 {
		t.Errorf("redirect loop retried: %d requests to /a", n)
	}
	t.Log(err)
	assertNothingStored(t, st)
}

func TestLyingContentLength(t *testing.T) {
	data := blob(1000, 11)
	// Announces more bytes than the lock says: refused before reading.
	big := newServer(t, map[string]http.HandlerFunc{"/big": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		w.Write(data)
	}})
	st := newStore(t)
	in := input("cl", data, big.URL+"/big")
	err := fetcher(st).Fetch(context.Background(), []lock.Input{in})
	if err == nil || !strings.Contains(err.Error(), "server announces 5000 bytes (Content-Length 5000 from byte 0) but monogres.lock says 1000 bytes") {
		t.Fatalf("err = %v", err)
	}
	assertNothingStored(t, st)

	// Announces the locked size, sends less and closes: treated as a
	// truncated transfer, resumed with Range from an honest second answer.
	var n atomic.Int32
	short := newServer(t, map[string]http.HandlerFunc{"/short": func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", "1000")
			w.Write(data[:600])
			return // net/http closes the connection: the body is short
		}
		serve(data)(w, r)
	}})
	in.URLs = []string{short.URL + "/short"}
	if err := fetcher(st).Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if got := short.requests("/short"); len(got) != 2 || got[1] != "bytes=600-" {
		t.Errorf("Range headers = %q", got)
	}

	// Hash (size unknown) of a server that always lies: an error, not a
	// truncated blob in the store.
	st2 := newStore(t)
	liar := newServer(t, map[string]http.HandlerFunc{"/liar": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2000")
		w.Write(data)
	}})
	f := fetcher(st2)
	f.Retries = 2
	if sha, size, err := f.Hash(context.Background(), "liar", liar.URL+"/liar"); err == nil {
		t.Fatalf("Hash of a lying server = %s %d", sha, size)
	} else {
		t.Log(err)
	}
	assertNothingStored(t, st2)
}

func TestDistdirAndOffline(t *testing.T) {
	data := blob(20<<10, 12)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "other.tar.gz"), blob(20<<10, 13), 0o644) // same size, other bytes
	in := input("d", data, "https://unreachable.invalid/dist/pkg-1.0.tar.gz", "https://unreachable.invalid/x/other.tar.gz")
	st := newStore(t)
	f := fetcher(st)
	f.Offline = true
	f.Distdirs = []string{dir}
	err := f.Fetch(context.Background(), []lock.Input{in})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("offline, not found:\n%v", err)
	if !strings.Contains(err.Error(), "offline: only the store and distdirs were tried") || !strings.Contains(err.Error(), "other.tar.gz is different") {
		t.Errorf("message: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "pkg-1.0.tar.gz"), data, 0o644)
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if !st.Has(in.SHA256) {
		t.Fatal("not stored from distdir")
	}
}

func TestFileURL(t *testing.T) {
	data := blob(30<<10, 14)
	dir := t.TempDir()
	p := filepath.Join(dir, "local.tar.gz")
	os.WriteFile(p, data, 0o644)
	local := func(st *store.Store) *Fetcher {
		f := fetcher(st)
		f.LocalDirs = []string{dir}
		return f
	}
	st := newStore(t)
	in := input("file", data, "file://"+p)
	if err := local(st).Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	if !st.Has(in.SHA256) {
		t.Fatal("not stored")
	}
	// Relative to the first local directory.
	if err := local(newStore(t)).Fetch(context.Background(), []lock.Input{input("file", data, "file://local.tar.gz")}); err != nil {
		t.Fatal(err)
	}
	// Wrong bytes through file:// are a mismatch too.
	st2 := newStore(t)
	bad := input("file", blob(30<<10, 15), "file://"+p)
	var me *MismatchError
	if err := local(st2).Fetch(context.Background(), []lock.Input{bad}); !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	assertNothingStored(t, st2)
	// A file:// URL naming a symlink inside the directory is read through
	// it; the store never holds a symlink.
	link := filepath.Join(dir, "link.tar.gz")
	os.Symlink("local.tar.gz", link)
	st3 := newStore(t)
	if err := local(st3).Fetch(context.Background(), []lock.Input{input("file", data, "file://"+link)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(st3.Path(sum(data))); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("store entry: %v %v", fi, err)
	}
	// Outside the local directories, directly or through a symlink, or
	// with no local directory at all: refused.
	outside := filepath.Join(t.TempDir(), "outside.tar.gz")
	os.WriteFile(outside, data, 0o644)
	os.Symlink(outside, filepath.Join(dir, "out.tar.gz"))
	for _, u := range []string{"file://" + outside, "file://out.tar.gz", "file://../" + filepath.Base(filepath.Dir(outside)) + "/outside.tar.gz"} {
		st := newStore(t)
		err := local(st).Fetch(context.Background(), []lock.Input{input("file", data, u)})
		if err == nil || !strings.Contains(err.Error(), "file:// URLs are read only inside "+dir) {
			t.Errorf("%s: %v", u, err)
		}
		assertNothingStored(t, st)
	}
	if err := fetcher(newStore(t)).Fetch(context.Background(), []lock.Input{in}); err == nil || !strings.Contains(err.Error(), "file:// URLs are refused here") {
		t.Errorf("no local dirs: %v", err)
	}
}

func TestHash(t *testing.T) {
	data := blob(64<<10, 16)
	srv := newServer(t, map[string]http.HandlerFunc{"/new.tar.gz": serve(data)})
	st := newStore(t)
	sha, size, err := fetcher(st).Hash(context.Background(), "extension/new/1", srv.URL+"/new.tar.gz")
	if err != nil || sha != sum(data) || size != int64(len(data)) {
		t.Fatalf("Hash = %s %d %v", sha, size, err)
	}
	if !st.Has(sha) {
		t.Error("hashed blob not kept in the store")
	}
}

func TestAddFiles(t *testing.T) {
	data := []byte("tarball bytes")
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar.gz")
	os.WriteFile(p, data, 0o644)
	q := filepath.Join(dir, "notes.txt")
	os.WriteFile(q, []byte("n"), 0o644)
	st := newStore(t)
	added, err := AddFiles(context.Background(), st, []string{p, q}, []lock.Input{input("postgres/9", data)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("added %s: sha256:%s (13 bytes), satisfies postgres/9", p, sum(data)),
		fmt.Sprintf("added %s: sha256:%s (1 bytes), not referenced by monogres.lock", q, sum([]byte("n"))),
	}
	for i, a := range added {
		if a.String() != want[i] {
			t.Errorf("line %d = %q, want %q", i, a, want[i])
		}
	}
}

func TestMirrorCandidates(t *testing.T) {
	f := &Fetcher{Mirrors: []Mirror{{From: "https://ftp.postgresql.org/pub/", To: "http://m1/pg/"}, {From: "https://ftp.postgresql.org/", To: "http://m2/"}}}
	got := f.candidates([]string{"https://ftp.postgresql.org/pub/source/v1/p.tar.bz2", "https://other/p.tar.bz2"})
	want := []string{"http://m1/pg/source/v1/p.tar.bz2", "http://m2/pub/source/v1/p.tar.bz2", "https://ftp.postgresql.org/pub/source/v1/p.tar.bz2", "https://other/p.tar.bz2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("candidates = %q\nwant %q", got, want)
	}
}
