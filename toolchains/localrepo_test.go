package toolchains

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/monogres/monogres/internal/debarchive"
	"github.com/monogres/monogres/internal/debarchive/debarchivetest"
	"github.com/monogres/monogres/internal/testenv"
)

// repoDebs are real bookworm packages for the local repository: mawk
// (Provides: awk) and its libc closure, libgcc-s1 (versioned Provides:
// libgcc1), debconf (Provides: debconf-2.0), and libtext-charwidth-perl
// and adduser whose closures leave the repository
// (libtext-charwidth-perl -> perl-base -> dpkg, adduser -> passwd).
var repoDebs = []string{"adduser", "debconf", "gcc-12-base", "libc6", "libcrypt1", "libgcc-s1", "libtext-charwidth-perl", "mawk", "perl-base"}

// aptDownload fetches the newest candidates of names with apt-get download
// into dir, running apt-get update first if apt has no lists.
func aptDownload(t *testing.T, dir string, names []string) {
	t.Helper()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Fatalf("apt-get not found: %v", err)
	}
	out, err := run(append([]string{"apt-get", "download", "-q"}, names...)...)
	if err != nil {
		t.Logf("apt-get download failed (%v), running apt-get update:\n%s", err, out)
		if out, err := run("apt-get", "update", "-q"); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, out)
		}
		if out, err := run(append([]string{"apt-get", "download", "-q"}, names...)...); err != nil {
			t.Fatalf("apt-get download: %v\n%s", err, out)
		}
	}
}

// localRepo builds a Debian repository from real .debs (apt-get download +
// dpkg-scanpackages + a Release file) and serves it on loopback.
func localRepo(t *testing.T) (*httptest.Server, *debarchive.Keyring) {
	testenv.RequireRoot(t, "chroot and apt-get")
	if _, err := exec.LookPath("dpkg-scanpackages"); err != nil {
		t.Fatalf("dpkg-scanpackages not found (apt-get install dpkg-dev): %v", err)
	}
	repo := t.TempDir()
	pool := filepath.Join(repo, "pool", "main")
	if err := os.MkdirAll(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pool, 0o777); err != nil { // apt-get download runs as _apt
		t.Fatal(err)
	}
	aptDownload(t, pool, repoDebs)
	cmd := exec.Command("dpkg-scanpackages", "-m", "pool", "/dev/null")
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	packages, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v\n%s", err, stderr.String())
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(packages)
	zw.Close()
	dists := filepath.Join(repo, "dists", "local")
	files := map[string][]byte{"main/binary-amd64/Packages": packages, "main/binary-amd64/Packages.gz": gz.Bytes()}
	var rel strings.Builder
	rel.WriteString("Origin: monogres-test\nSuite: local\nCodename: local\nArchitectures: amd64\nComponents: main\nSHA256:\n")
	for _, name := range []string{"main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"} {
		p := filepath.Join(dists, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(files[name])
		fmt.Fprintf(&rel, " %s %d %s\n", hex.EncodeToString(s[:]), len(files[name]), name)
	}
	// Signed with a key made here, as Debian signs its Release files.
	signer := debarchivetest.NewSigner(t)
	if err := os.WriteFile(filepath.Join(dists, "Release"), []byte(rel.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dists, "Release.gpg"), signer.DetachSign(t, []byte(rel.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	t.Cleanup(srv.Close)
	return srv, signer.Keyring(t)
}

func TestResolveLocalRepository(t *testing.T) {
	srv, kr := localRepo(t)
	src := Source{BaseURL: srv.URL, Suite: "local", Components: []string{"main"}, Arches: []string{"amd64"}, Keyring: kr}
	if _, err := FetchIndex(context.Background(), srv.Client(), Source{BaseURL: srv.URL, Suite: "local", Components: []string{"main"}, Arches: []string{"amd64"}}); err == nil || !strings.Contains(err.Error(), "not signed by a trusted key") {
		t.Fatalf("a Release signed by an untrusted key: %v", err)
	}
	idx, err := FetchIndex(context.Background(), srv.Client(), src)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Release.Path != "Release" || len(idx.Packages) != 1 || !strings.HasSuffix(idx.Packages[0].URL, "Packages.gz") {
		t.Errorf("index files: %+v %+v", idx.Release, idx.Packages)
	}
	libc := []string{"gcc-12-base:amd64", "libc6:amd64", "libgcc-s1:amd64"}
	tests := []struct {
		name string
		req  []string
		want []string
		err  string
	}{
		{name: "virtual awk", req: []string{"awk"}, want: append([]string{"mawk:amd64"}, libc...)},
		{name: "alternative", req: []string{"gawk | mawk"}, want: append([]string{"mawk:amd64"}, libc...)},
		{name: "versioned provides", req: []string{"libgcc1 (>= 1:12)"}, want: libc},
		{name: "versioned", req: []string{"mawk (>= 1.3.4)", "libcrypt1 (>= 1:4.1.0)"}, want: append([]string{"libcrypt1:amd64", "mawk:amd64"}, libc...)},
		{name: "version too high", req: []string{"mawk (>= 99)"}, err: "request -> mawk (>= 99): no candidate for amd64 (index has amd64 1.3.4"},
		{name: "virtual debconf-2.0", req: []string{"debconf-2.0"}, want: []string{"debconf:all"}},
		{name: "chain", req: []string{"libtext-charwidth-perl"}, err: "request -> libtext-charwidth-perl -> perl-base -> dpkg (>= 1.17.17): no candidate (not in the index)"},
		{name: "missing dependency", req: []string{"adduser"}, err: "request -> adduser -> passwd: no candidate (not in the index)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(idx, Request{Arch: "amd64", Packages: tt.req})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string(nil), tt.want...)
			slices.Sort(want)
			if d := cmp.Diff(want, names(got)); d != "" {
				t.Errorf("closure (-want +got):\n%s", d)
			}
			for _, p := range got {
				if !strings.HasPrefix(p.URL, srv.URL+"/pool/main/") || len(p.SHA256) != 64 || p.Size == 0 {
					t.Errorf("%s: URL %q sha256 %q size %d", p, p.URL, p.SHA256, p.Size)
				}
			}
		})
	}
	// The resolved URLs serve bytes with the pinned sha256.
	got, err := Resolve(idx, Request{Arch: "amd64", Packages: []string{"awk"}})
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, p Package) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}
	root := t.TempDir()
	r, err := Compose(context.Background(), got, open, filepath.Join(root, "r"), DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(r.Dir, "usr/bin/awk")); err != nil || l != "mawk" {
		t.Errorf("usr/bin/awk -> %q (%v), want mawk", l, err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "lib64/ld-linux-x86-64.so.2")); err != nil {
		t.Errorf("dynamic linker not reachable through /lib64: %v", err)
	}
}
