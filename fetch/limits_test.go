package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/lock"
)

// endless streams zeros until the client goes away; with announce > 0 it
// first claims that Content-Length.
func endless(announce int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if announce > 0 {
			w.Header().Set("Content-Length", fmt.Sprint(announce))
		}
		buf := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}
}

// storeFiles lists every file under the store's cas/ and tmp/ (locks aside).
func storeFiles(t *testing.T, f *Fetcher) []string {
	var out []string
	for _, sub := range []string{"cas", "tmp"} {
		ents, _ := os.ReadDir(f.Store.Dir() + "/" + sub)
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".lock") {
				out = append(out, sub+"/"+e.Name())
			}
		}
	}
	return out
}

// Issue 10 finding 6: lock-time hashing had no size bound (a 3 GiB stream
// was stored whole, an endless one fills the disk). It stops at the cap
// now, with the cause, and stores nothing.
func TestHashStopsAtSizeCap(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{
		"/endless":  endless(0),
		"/3gib":     endless(3 << 30),
		"/5gib":     endless(5 << 30),
		"/fits.tgz": serve(blob(512<<10, 3)),
	})
	f := fetcher(newStore(t))
	f.Limits.MaxSize = 1 << 20
	for _, p := range []string{"/endless", "/3gib"} {
		start := time.Now()
		_, _, err := f.Hash(context.Background(), "extension/big/1", srv.URL+p)
		var se *SizeError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "more than 1048576 bytes (1.0 MB), the cap") || !strings.Contains(err.Error(), EnvMaxSize) {
			t.Fatalf("%s: %v", p, err)
		}
		t.Logf("%s stopped after %v: %v", p, time.Since(start), err)
		if got := srv.requests(p); len(got) != 1 {
			t.Errorf("%s: the size cap was retried: %v", p, got)
		}
	}
	if files := storeFiles(t, f); len(files) != 0 {
		t.Errorf("the store kept %v", files)
	}
	if _, _, err := f.Hash(context.Background(), "extension/fits/1", srv.URL+"/fits.tgz"); err != nil {
		t.Fatalf("a download under the cap: %v", err)
	}

	// The default cap is 4 GiB: an announced 5 GiB is refused before its
	// body is read, 3 GiB would be accepted.
	def := fetcher(newStore(t))
	if got := def.Limits.maxSize(); got != 4<<30 {
		t.Fatalf("default cap %d", got)
	}
	_, _, err := def.Hash(context.Background(), "extension/huge/1", srv.URL+"/5gib")
	if !errors.As(err, new(*SizeError)) || !strings.Contains(err.Error(), "announces 5368709120 bytes, more than 4294967296 bytes (4.0 GB)") {
		t.Fatalf("default cap: %v", err)
	}
	t.Log(err)
}

// A pinned size is its own cap: more bytes than the lock says are a
// mismatch, whatever the size cap.
func TestFetchPinnedSizeIsItsCap(t *testing.T) {
	data := blob(64<<10, 4)
	srv := newServer(t, map[string]http.HandlerFunc{"/x": endless(0)})
	f := fetcher(newStore(t))
	err := f.Fetch(context.Background(), []lock.Input{input("x", data, srv.URL+"/x")})
	if !errors.As(err, new(*MismatchError)) {
		t.Fatalf("endless pinned download: %v", err)
	}
}

// trickle sends one byte every gap, forever.
func trickle(gap time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(1<<20))
		w.WriteHeader(200)
		for r.Context().Err() == nil {
			w.Write([]byte{0})
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(gap):
			}
		}
	}
}

// Issue 10 finding 6: a server sending one byte every few seconds kept a
// download alive for hours (only an idle timer, which every byte resets).
// The minimum rate stops it at the end of the first window, for fetch and
// lock-time hashing alike, with the cause; it is not retried.
func TestSlowLorisStoppedAtMinRate(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{"/loris": trickle(500 * time.Millisecond), "/loris2": trickle(500 * time.Millisecond)})
	f := fetcher(newStore(t))
	f.IdleTimeout = 10 * time.Second // never reached: a byte comes every 0.5 s
	f.Limits = Limits{MinRate: 4, RateWindow: time.Second}
	start := time.Now()
	err := f.Fetch(context.Background(), []lock.Input{input("slow/1", blob(1<<20, 5), srv.URL+"/loris")})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "below the minimum rate of 4 bytes/s") {
		t.Fatalf("fetch from a slow-loris server: %v", err)
	}
	if took > 4*time.Second {
		t.Errorf("stopped after %v, want about the 1 s window", took)
	}
	if n := len(srv.requests("/loris")); n != 1 {
		t.Errorf("a slow server was retried %d times", n-1)
	}
	t.Logf("fetch stopped after %v: %v", took, err)

	start = time.Now()
	_, _, err = f.Hash(context.Background(), "extension/slow/1", srv.URL+"/loris2")
	if !errors.As(err, new(*SlowError)) {
		t.Fatalf("lock-time hash from a slow-loris server: %v", err)
	}
	t.Logf("hash stopped after %v: %v", time.Since(start), err)
}

// A server fast enough for the minimum rate but too slow for the deadline
// is stopped at the deadline, retries included.
func TestDeadline(t *testing.T) {
	srv := newServer(t, map[string]http.HandlerFunc{"/steady": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(64<<20))
		buf := make([]byte, 8<<10)
		for r.Context().Err() == nil {
			w.Write(buf)
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // 160 KiB/s
		}
	}})
	f := fetcher(newStore(t))
	f.Limits = Limits{Deadline: 1500 * time.Millisecond, MinRate: 1 << 10, RateWindow: 500 * time.Millisecond}
	start := time.Now()
	_, _, err := f.Hash(context.Background(), "extension/steady/1", srv.URL+"/steady")
	var de *DeadlineError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "did not finish within the 1.5s deadline") {
		t.Fatalf("deadline: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("stopped after %v", took)
	}
	t.Log(err)
}

func TestLimitsFromEnv(t *testing.T) {
	t.Setenv(EnvMaxSize, "64MiB")
	t.Setenv(EnvDeadline, "30m")
	t.Setenv(EnvMinRate, "0")
	l, err := LimitsFromEnv()
	if err != nil || l.maxSize() != 64<<20 || l.deadline() != 30*time.Minute || l.minRate() != 0 {
		t.Fatalf("%+v %v", l, err)
	}
	t.Setenv(EnvMaxSize, "lots")
	if _, err := LimitsFromEnv(); err == nil || !strings.Contains(err.Error(), EnvMaxSize) {
		t.Fatalf("bad size: %v", err)
	}
	var zero Limits
	if zero.maxSize() != 4<<30 || zero.minRate() != DefaultMinRate || zero.deadline() != time.Hour {
		t.Fatalf("defaults %+v", zero)
	}
}
