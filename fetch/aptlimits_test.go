package fetch

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/lock"
)

// aptMirror serves a flat apt repository (deb [trusted=yes] URL ./)
// listing one package, evil 1.0 of the given size and sha256, whose .deb
// is served by deb. It returns the apt source line.
func aptMirror(t *testing.T, size int64, sha string, deb http.HandlerFunc) string {
	t.Helper()
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not installed")
	}
	arch := hostArch()
	packages := fmt.Sprintf("Package: evil\nVersion: 1.0\nArchitecture: %s\nMaintainer: x <x@example.com>\nFilename: ./evil_1.0_%s.deb\nSize: %d\nSHA256: %s\nDescription: endless\n\n", arch, arch, size, sha)
	routes := map[string]http.HandlerFunc{}
	for _, d := range []string{"/", "/./"} { // apt asks for URL/./Packages
		routes[d+"Packages"] = serve([]byte(packages))
		routes[d+"Sources"] = serve(nil)
		routes[d+"evil_1.0_"+arch+".deb"] = deb
	}
	srv := newServer(t, routes)
	return "deb [trusted=yes] " + srv.URL + "/ ./"
}

func aptFetcher(t *testing.T, source string, l Limits) (*Fetcher, lock.Input) {
	st := newStore(t)
	f := &Fetcher{Store: st, Apt: true, AptSources: []string{source}, AptDir: filepath.Join(t.TempDir(), "apt"), Limits: l, Retries: -1}
	in := lock.Input{Name: "deb/" + hostArch() + "/evil", Kind: lock.KindDeb, SHA256: strings.Repeat("ab", 32), Size: 4096, Apt: "binary:evil:" + hostArch() + "=1.0"}
	return f, in
}

// Issue 10 finding 6 through the apt fallback: a mirror streaming an
// endless .deb was downloaded whole by apt-get (no size cap: the disk
// fills), and one trickling bytes kept apt-get alive past every deadline.
// Both now stop at the limits that bound every other download, with the
// cause in the error, and nothing is stored.
func TestAptFallbackLimits(t *testing.T) {
	endless := func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}
	trickle := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000000000")
		for r.Context().Err() == nil {
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
	}
	t.Run("fits", func(t *testing.T) {
		data := blob(4096, 9)
		f, in := aptFetcher(t, aptMirror(t, 4096, sum(data), serve(data)), Limits{Deadline: time.Minute})
		in.SHA256 = sum(data)
		if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil || !f.Store.Has(in.SHA256) {
			t.Fatalf("a package within the limits: %v", err)
		}
	})
	t.Run("endless", func(t *testing.T) {
		f, in := aptFetcher(t, aptMirror(t, 100000000000, strings.Repeat("ab", 32), endless), Limits{})
		start := time.Now()
		err := f.Fetch(context.Background(), []lock.Input{in})
		if err == nil || !strings.Contains(err.Error(), "stopped: apt-get download evil:"+hostArch()+"=1.0 sent more than the 4096 bytes monogres.lock pins for it") {
			t.Fatalf("want the apt fallback stopped at the pinned size, got %v", err)
		}
		t.Logf("%v (after %v)", err, time.Since(start))
		if f.Store.Has(in.SHA256) {
			t.Error("stored")
		}
		assertNoBigFiles(t, f.AptDir, f.Store.TmpDir())
	})
	t.Run("trickle", func(t *testing.T) {
		f, in := aptFetcher(t, aptMirror(t, 100000000000, strings.Repeat("ab", 32), trickle), Limits{MinRate: 1 << 10, RateWindow: 2 * time.Second})
		start := time.Now()
		err := f.Fetch(context.Background(), []lock.Input{in})
		if err == nil || !strings.Contains(err.Error(), "stopped: apt-get download evil:"+hostArch()+"=1.0 sent") || !strings.Contains(err.Error(), "below the minimum rate of 1024 bytes/s") {
			t.Fatalf("want the apt fallback stopped below the minimum rate, got %v", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("stopped after %v; the window is 2s", d)
		}
		t.Log(err)
	})
	t.Run("deadline", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: waits for an 8 s deadline")
		}
		f, in := aptFetcher(t, aptMirror(t, 100000000000, strings.Repeat("ab", 32), trickle), Limits{Deadline: 8 * time.Second, MinRate: -1})
		err := f.Fetch(context.Background(), []lock.Input{in})
		if err == nil || !strings.Contains(err.Error(), "stopped: apt-get download evil:"+hostArch()+"=1.0 did not finish within the 8s deadline") {
			t.Fatalf("want the apt fallback stopped at the deadline, got %v", err)
		}
		t.Log(err)
	})
}

// assertNoBigFiles fails if a file over 1 MiB is left under the dirs.
func assertNoBigFiles(t *testing.T, dirs ...string) {
	for _, d := range dirs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() && fi.Size() > 1<<20 {
				t.Errorf("left behind: %s (%d bytes)", p, fi.Size())
			}
			return nil
		})
	}
}
