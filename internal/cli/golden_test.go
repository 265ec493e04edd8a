package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sourceServer serves a reproducible tar.gz of each testdata/golden/src/NAME-VERSION
// directory at /NAME-VERSION.tar.gz and /NAME/VERSION.tar.gz on loopback,
// counting requests.
func sourceServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "src", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	files := map[string][]byte{}
	for _, d := range dirs {
		b, err := targz(d)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(d)
		i := strings.LastIndex(base, "-")
		files["/"+base+".tar.gz"] = b
		files["/"+base[:i]+"/"+base[i+1:]+".tar.gz"] = b
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// run calls Main in process and returns its exit code, stdout and stderr.
func run(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// lockIn writes the golden manifest name (with {{server}} filled in) to a
// fresh directory, locks it and returns the directory and the lock's bytes.
func lockIn(t *testing.T, name, server string) (string, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "golden", name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(manifest, bytes.ReplaceAll(src, []byte("{{server}}"), []byte(server)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(context.Background(), "--manifest", manifest, "lock")
	if code != 0 {
		t.Fatalf("monogres lock: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "monogres.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, b
}

// TestGolden locks each testdata/golden/*.toml and compares the lock with
// its .lock file (go test -update rewrites them). It also proves the lock
// is deterministic: a second run changes nothing, and a fresh run against a
// new server gives the same bytes.
func TestGolden(t *testing.T) {
	manifests, err := filepath.Glob(filepath.Join("testdata", "golden", "*.toml"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no golden manifests: %v", err)
	}
	for _, path := range manifests {
		name := strings.TrimSuffix(filepath.Base(path), ".toml")
		t.Run(name, func(t *testing.T) {
			t.Setenv("MONOGRES_STORE", t.TempDir())
			srv, hits := sourceServer(t)
			dir, got := lockIn(t, name, srv.URL)
			golden := filepath.Join("testdata", "golden", name+".lock")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s differs (-want +got); go test -update rewrites it:\n%s", golden, d)
			}

			// Again in place: no download, no write, same bytes.
			manifest := filepath.Join(dir, "monogres.toml")
			lockFile := filepath.Join(dir, "monogres.lock")
			before, _ := os.Stat(lockFile)
			n := hits.Load()
			code, stdout, stderr := run(context.Background(), "--manifest", manifest, "lock")
			if code != 0 || !strings.Contains(stdout, "is up to date") || stderr != "" {
				t.Errorf("second lock: exit %d\n%s%s", code, stdout, stderr)
			}
			after, _ := os.Stat(lockFile)
			if again, _ := os.ReadFile(lockFile); !bytes.Equal(again, got) || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
				t.Error("second lock rewrote the lock")
			}
			if hits.Load() != n {
				t.Errorf("second lock made %d requests", hits.Load()-n)
			}
			code, stdout, stderr = run(context.Background(), "--manifest", manifest, "lock", "--check")
			if code != 0 {
				t.Errorf("lock --check: exit %d\n%s%s", code, stdout, stderr)
			}

			// From scratch elsewhere, against another server: same bytes.
			srv2, _ := sourceServer(t)
			if _, again := lockIn(t, name, srv2.URL); !bytes.Equal(again, got) {
				t.Errorf("a fresh lock differs:\n%s", cmp.Diff(string(got), string(again)))
			}
		})
	}
}

// TestExitCodes: 0 for yes, 1 for a stale lock or a failure, 2 for a bad
// command line, 130 when interrupted.
func TestExitCodes(t *testing.T) {
	t.Setenv("MONOGRES_STORE", t.TempDir())
	srv, _ := sourceServer(t)
	dir, _ := lockIn(t, "extensions", srv.URL)
	manifest := filepath.Join(dir, "monogres.toml")
	ctx := context.Background()
	if code, _, _ := run(ctx, "--manifest", manifest, "lock", "--check"); code != 0 {
		t.Errorf("fresh lock --check: exit %d", code)
	}
	if code, _, _ := run(ctx, "--manifest", manifest, "lock", "--nope"); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	if code, _, _ := run(ctx, "--manifest", manifest, "frob"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, _, _ := run(ctx, "--manifest", manifest, "lock", "-h"); code != 0 {
		t.Errorf("lock -h: exit %d", code)
	}
	m, _ := os.ReadFile(manifest)
	os.WriteFile(manifest, bytes.Replace(m, []byte(`versions = ["1.0", "2.0"]`), []byte(`versions = ["1.0", "2.0", "3.0"]`), 1), 0o644)
	if code, _, stderr := run(ctx, "--manifest", manifest, "lock", "--check"); code != 1 || !strings.Contains(stderr, "input extension/pg_demo/3.0 is not pinned in the lock") {
		t.Errorf("stale lock --check: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := run(ctx, "--manifest", manifest, "lock"); code != 1 || !strings.Contains(stderr, "hashing extension/pg_demo/3.0") {
		t.Errorf("download failure: exit %d\n%s", code, stderr)
	}
	// Interrupted while a download is needed.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if code, _, stderr := run(cancelled, "--manifest", manifest, "lock"); code != 130 || stderr != "monogres lock: interrupted\n" {
		t.Errorf("interrupted lock: exit %d, %q", code, stderr)
	}
}
