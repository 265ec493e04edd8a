package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/monogres/monogres/internal/debarchive/debarchivetest"
	manifestpkg "github.com/monogres/monogres/internal/manifest"
)

// signedArchive serves a Debian archive on loopback: dists/test/InRelease
// clearsigned by a key made for the test, a gzipped Packages index with a
// small closure (hello -> libc6, libgcc-s1 -> gcc-12-base), and an
// extension tarball. tamper, when set, rewrites the InRelease it serves.
type signedArchive struct {
	srv    *httptest.Server
	signer *debarchivetest.Signer
	mu     sync.Mutex
	files  map[string][]byte
}

const testPackages = `Package: hello
Version: 2.10-3
Architecture: amd64
Depends: libc6 (>= 2.34)
Filename: pool/main/h/hello/hello_2.10-3_amd64.deb
Size: 53216
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: libc6
Version: 2.36-9+deb12u13
Architecture: amd64
Multi-Arch: same
Depends: libgcc-s1
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u13_amd64.deb
Size: 2758032
SHA256: 2222222222222222222222222222222222222222222222222222222222222222

Package: libgcc-s1
Version: 12.2.0-14+deb12u1
Architecture: amd64
Multi-Arch: same
Depends: gcc-12-base (= 12.2.0-14+deb12u1)
Filename: pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb
Size: 49432
SHA256: 3333333333333333333333333333333333333333333333333333333333333333

Package: gcc-12-base
Version: 12.2.0-14+deb12u1
Architecture: amd64
Multi-Arch: same
Filename: pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_amd64.deb
Size: 37488
SHA256: 4444444444444444444444444444444444444444444444444444444444444444
`

func newSignedArchive(t *testing.T) *signedArchive {
	a := &signedArchive{signer: debarchivetest.NewSigner(t), files: map[string][]byte{}}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(testPackages))
	zw.Close()
	a.files["/dists/test/main/binary-amd64/Packages.gz"] = gz.Bytes()
	a.files["/dists/test/InRelease"] = a.signer.ClearSign(t, a.release(gz.Bytes()))
	tgz, err := targz(filepath.Join("testdata", "golden", "src", filepath.Base(firstSrc(t))))
	if err != nil {
		t.Fatal(err)
	}
	a.files["/ext.tar.gz"] = tgz
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		b, ok := a.files[r.URL.Path]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func firstSrc(t *testing.T) string {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "golden", "src", "*"))
	if len(dirs) == 0 {
		t.Fatal("no golden sources")
	}
	return dirs[0]
}

func (a *signedArchive) release(packagesGz []byte) []byte {
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	return []byte(fmt.Sprintf("Origin: test\nSuite: test\nCodename: test\nArchitectures: amd64\nComponents: main\nSHA256:\n %s %d main/binary-amd64/Packages\n %s %d main/binary-amd64/Packages.gz\n",
		sum([]byte(testPackages)), len(testPackages), sum(packagesGz), len(packagesGz)))
}

// trustProject writes a manifest using the archive (trusting only its key)
// with one extension pinned by the manifest and one pinned by the lock
// alone, locks it, and returns the manifest path and the lock's bytes.
func trustProject(t *testing.T, a *signedArchive) (string, []byte) {
	dir := t.TempDir()
	t.Setenv("MONOGRES_STORE", filepath.Join(dir, ".store"))
	tgz := a.files["/ext.tar.gz"]
	sum := sha256.Sum256(tgz)
	// Every option is unsupported, so the toolchain is the base layer alone.
	var opts []string
	for _, o := range manifestpkg.Options {
		opts = append(opts, strconv.Quote(string(o)))
	}
	manifest := fmt.Sprintf(`[postgres]
versions = ["15.18"]
option_sets = ["barebones"]

[target.amd64]
unsupported = [`+strings.Join(opts, ", ")+`]

[[extension]]
name = "pinned"
versions = ["1.0"]
build = "pgxs"
[[extension.source]]
urls = ["%[1]s/ext.tar.gz"]
[[extension.release]]
version = "1.0"
sha256 = "%[2]x"

[[extension]]
name = "unpinned"
versions = ["2.0"]
build = "pgxs"
[[extension.source]]
urls = ["%[1]s/ext.tar.gz"]

[toolchain]
archive = "%[1]s"
suite = "test"
packages = ["hello"]
keys = ["%[3]s"]
keyring = "archive.asc"
`, a.srv.URL, sum, a.signer.Fingerprint())
	if err := os.WriteFile(filepath.Join(dir, "archive.asc"), a.signer.PublicKey(t), 0o644); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(m, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(context.Background(), "--manifest", m, "lock"); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "monogres.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

// editInput applies edit to the [[input]] block named name in lock text.
func editInput(t *testing.T, lockText []byte, name string, edit func(block string) string) []byte {
	t.Helper()
	blocks := strings.Split(string(lockText), "\n[[input]]\n")
	for i, b := range blocks {
		if strings.HasPrefix(b, fmt.Sprintf("name = %q\n", name)) {
			if nb := edit(b); nb != b {
				blocks[i] = nb
			} else {
				t.Fatalf("edit of %s changed nothing", name)
			}
			return []byte(strings.Join(blocks, "\n[[input]]\n"))
		}
	}
	t.Fatalf("no input %s in the lock", name)
	return nil
}

// deleteInput removes the [[input]] block named name from lock text.
func deleteInput(t *testing.T, lockText []byte, name string) []byte {
	t.Helper()
	blocks := strings.Split(string(lockText), "\n[[input]]\n")
	for i, b := range blocks {
		if strings.HasPrefix(b, fmt.Sprintf("name = %q\n", name)) {
			return []byte(strings.Join(append(blocks[:i:i], blocks[i+1:]...), "\n[[input]]\n"))
		}
	}
	t.Fatalf("no input %s in the lock", name)
	return nil
}

// TestLockCheckCatchesTampering is issue 10 finding 4: every deb/* pin and
// an extension's sha256 edited in the lock. Before the fix each printed
// "monogres.lock is up to date"; now each fails, naming the input and the
// trust root its pin was checked against.
func TestLockCheckCatchesTampering(t *testing.T) {
	a := newSignedArchive(t)
	m, good := trustProject(t, a)
	lockPath := filepath.Join(filepath.Dir(m), "monogres.lock")
	check := func(t *testing.T, lockText []byte) (int, string, string) {
		t.Helper()
		if err := os.WriteFile(lockPath, lockText, 0o644); err != nil {
			t.Fatal(err)
		}
		return run(context.Background(), "--manifest", m, "lock", "--check")
	}
	code, stdout, stderr := check(t, good)
	if code != 0 {
		t.Fatalf("good lock: exit %d\n%s", code, stderr)
	}
	signed := "index/test/InRelease, signed by monogres test archive <archive@example.invalid> (" + a.signer.Fingerprint() + ")"
	if !strings.Contains(stdout, "verified 6 toolchain pins against "+signed) {
		t.Errorf("good lock: stdout\n%s", stdout)
	}
	if !strings.Contains(stdout, "note: 1 inputs rest on the lock alone") || !strings.Contains(stdout, "extension/unpinned/2.0") {
		t.Errorf("the lock-only pin is not reported:\n%s", stdout)
	}
	// The good lock's verification is now memoized in the store: every
	// tampered lock below is checked with that memo present, and a lock
	// that fails leaves no memo of its own.
	memoDir := filepath.Join(os.Getenv("MONOGRES_STORE"), "memo", "lock-check")
	memos := func() []string {
		es, _ := os.ReadDir(memoDir)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	goodMemos := memos()
	if len(goodMemos) != 1 {
		t.Fatalf("after the good check the store holds memos %q in %s, want one", goodMemos, memoDir)
	}
	// The same check again is answered from the memo of the whole check
	// (checkMemo), without decoding; every tampered lock below misses it.
	hits := checkMemoHits
	if code, stdout, _ := check(t, good); code != 0 || !strings.Contains(stdout, "verified 6 toolchain pins against "+signed) {
		t.Fatalf("good lock, memoized: exit %d\n%s", code, stdout)
	}
	if checkMemoHits != hits+1 {
		t.Fatalf("the good lock's second check was not answered from its memo")
	}
	pkgs := "index/test/main/binary-amd64/Packages.gz (listed in " + signed + ")"
	for _, tc := range []struct {
		name string
		lock []byte
		want string
	}{
		{"deb sha256", editInput(t, good, "deb/amd64/libc6", func(b string) string {
			return strings.Replace(b, "sha256 = \"2222", "sha256 = \"6666", 1)
		}), "input deb/amd64/libc6: the lock says sha256 6666222222222222222222222222222222222222222222222222222222222222, but " + pkgs + " says 2222222222222222222222222222222222222222222222222222222222222222"},
		{"deb size", editInput(t, good, "deb/amd64/hello", func(b string) string {
			return strings.Replace(b, "size = 53216", "size = 53217", 1)
		}), "input deb/amd64/hello: the lock says size 53217, but " + pkgs + " says 53216"},
		{"deb URL", editInput(t, good, "deb/amd64/hello", func(b string) string {
			return strings.Replace(b, a.srv.URL+"/pool/", "https://evil.example/pool/", 1)
		}), "input deb/amd64/hello: the lock says urls https://evil.example/pool/main/h/hello/hello_2.10-3_amd64.deb, but " + pkgs + " says " + a.srv.URL + "/pool/main/h/hello/hello_2.10-3_amd64.deb"},
		{"deb removed", deleteInput(t, good, "deb/amd64/gcc-12-base"),
			"input deb/amd64/gcc-12-base is missing from the lock, but " + pkgs + " lists it"},
		{"deb added", bytes.Replace(good, []byte("\n[[input]]\nname = \"deb/amd64/hello\""), []byte("\n[[input]]\nname = \"deb/amd64/evil\"\nkind = \"deb\"\nversion = \"1\"\narch = \"amd64\"\nurls = []\nsha256 = \""+strings.Repeat("7", 64)+"\"\nroots = [\"amd64\"]\n\n[[input]]\nname = \"deb/amd64/hello\""), 1),
			"input deb/amd64/evil is in the lock, but the toolchain resolved from the Packages index of " + signed + " does not include it"},
		// With the good lock's memo in the store: the memo covers the roots.
		{"root removed", regexp.MustCompile(`\n\[\[root\]\]\nname = "amd64"\n[^\[]*`).ReplaceAll(good, nil),
			"toolchain root amd64 is missing from the lock, but the toolchain resolved from " + signed + " has it"},
		{"extension sha256", editInput(t, good, "extension/pinned/1.0", func(b string) string {
			return regexp.MustCompile(`sha256 = "[0-9a-f]{4}`).ReplaceAllString(b, `sha256 = "0000`)
		}), "input extension/pinned/1.0: the lock says sha256 0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits := checkMemoHits
			code, stdout, stderr := check(t, tc.lock)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", code, tc.want, stdout, stderr)
			}
			if checkMemoHits != hits {
				t.Errorf("the tampered lock was answered from a memo")
			}
			if got := memos(); !slices.Equal(got, goodMemos) {
				t.Errorf("memos after a failed check: %q, want only the good lock's %q", got, goodMemos)
			}
		})
	}
	// A file the manifest points to is part of the check: with the good
	// lock and its memo, a swapped toolchain.keyring fails the check, and
	// the original one is answered from the memo again.
	t.Run("keyring swapped", func(t *testing.T) {
		keyring := filepath.Join(filepath.Dir(m), "archive.asc")
		orig, err := os.ReadFile(keyring)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyring, debarchivetest.NewSigner(t).PublicKey(t), 0o644); err != nil {
			t.Fatal(err)
		}
		hits := checkMemoHits
		code, stdout, stderr := check(t, good)
		if code == 0 || checkMemoHits != hits || !strings.Contains(stderr, "toolchain.keys") {
			t.Fatalf("another keyring: exit %d (memo hits %d), want a failure naming toolchain.keys\nstdout: %s\nstderr: %s", code, checkMemoHits-hits, stdout, stderr)
		}
		if err := os.WriteFile(keyring, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := check(t, good); code != 0 || checkMemoHits != hits+1 {
			t.Fatalf("the keyring restored: exit %d (memo hits %d), want 0 from the memo\n%s", code, checkMemoHits-hits, stderr)
		}
	})
	// The manifest-pinned extension names its root.
	_, _, stderr = check(t, editInput(t, good, "extension/pinned/1.0", func(b string) string {
		return regexp.MustCompile(`sha256 = "[0-9a-f]{4}`).ReplaceAllString(b, `sha256 = "0000`)
	}))
	if !strings.Contains(stderr, "but "+m+" ([[extension.release]] version 1.0) says ") {
		t.Errorf("extension sha256: the trust root is not named:\n%s", stderr)
	}
}

// TestLockCheckFailsClosed: without the index files in the store or a
// distdir, lock --check refuses and says what to run; it never downloads.
func TestLockCheckFailsClosed(t *testing.T) {
	a := newSignedArchive(t)
	m, _ := trustProject(t, a)
	t.Setenv("MONOGRES_STORE", filepath.Join(t.TempDir(), "empty-store"))
	a.srv.Close() // nothing may be downloaded
	code, _, stderr := run(context.Background(), "--manifest", m, "lock", "--check")
	if code != 1 || !strings.Contains(stderr, "cannot verify the toolchain pins offline: index/test/InRelease, index/test/main/binary-amd64/Packages.gz not in the store") ||
		!strings.Contains(stderr, "run `monogres fetch 'index/*'`") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// TestBadReleaseSignatureRefused: a Release file whose signed text was
// changed (a mirror serving its own Packages index) is refused by `lock`
// when it resolves, and by `lock --check` when the lock pins it.
func TestBadReleaseSignatureRefused(t *testing.T) {
	a := newSignedArchive(t)
	m, good := trustProject(t, a)
	a.mu.Lock()
	good1 := a.files["/dists/test/InRelease"]
	evil := bytes.Replace(good1, []byte("Origin: test"), []byte("Origin: evil"), 1)
	a.files["/dists/test/InRelease"] = evil
	a.mu.Unlock()
	code, _, stderr := run(context.Background(), "--manifest", m, "lock", "--update", "toolchain")
	if code != 1 || !strings.Contains(stderr, "InRelease: InRelease: not signed by a trusted key: bad signature") {
		t.Fatalf("lock with a tampered InRelease: exit %d\n%s", code, stderr)
	}
	// The same file, pinned by a hand-edited lock, with its bytes in the store.
	sum := sha256.Sum256(evil)
	dir := filepath.Dir(m)
	evilPath := filepath.Join(dir, "InRelease")
	os.WriteFile(evilPath, evil, 0o644)
	if code, _, stderr := run(context.Background(), "--manifest", m, "store", "add", evilPath); code != 0 {
		t.Fatalf("store add: %s", stderr)
	}
	bad := editInput(t, good, "index/test/InRelease", func(b string) string {
		b = regexp.MustCompile(`sha256 = "[0-9a-f]{64}"`).ReplaceAllString(b, fmt.Sprintf(`sha256 = "%x"`, sum))
		return regexp.MustCompile(`size = \d+`).ReplaceAllString(b, fmt.Sprintf("size = %d", len(evil)))
	})
	os.WriteFile(filepath.Join(dir, "monogres.lock"), bad, 0o644)
	code, _, stderr = run(context.Background(), "--manifest", m, "lock", "--check")
	if code != 1 || !strings.Contains(stderr, "the pinned index does not verify (index/test/InRelease is the trust root of every deb/* pin)") || !strings.Contains(stderr, "bad signature") {
		t.Fatalf("lock --check with a tampered pinned InRelease: exit %d\n%s", code, stderr)
	}
}

// TestLockCheckMemoCatalog: the catalog a manifest selects from is part of
// lock --check: after a passing check (remembered in the store), a changed
// sha256 in the catalog fails the check, though the manifest and the lock
// are the same bytes.
func TestLockCheckMemoCatalog(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MONOGRES_STORE", filepath.Join(dir, ".store"))
	writeCatalog := func(sha string) {
		cat := manifestpkg.Catalog{Extensions: []manifestpkg.CatalogEntry{{Name: "pglogical", SourcePackage: "pglogical", Versions: []manifestpkg.CatalogVersion{{
			Version: "2.4.2", URL: "https://deb.debian.org/debian/pool/main/p/pglogical/pglogical_2.4.2.orig.tar.gz", SHA256: manifestpkg.SHA256(sha), Size: 42,
			Apt: "source:pglogical=2.4.2-3:pglogical_2.4.2.orig.tar.gz", StripPrefix: "pglogical-REL2_4_2", Build: "pgxs", Postgres: "<16", Fetchable: true,
		}}}}}
		b, err := json.Marshal(cat)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, manifestpkg.CatalogFileName), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCatalog(strings.Repeat("a", 64))
	m := filepath.Join(dir, "monogres.toml")
	if err := os.WriteFile(m, []byte("extensions = [\"pglogical\"]\n[postgres]\nversions = [\"15.18\"]\n[[extension]]\nname = \"pglogical\"\n[[extension.source]]\nurls = [\"https://mirror.example/pglogical-{version}.tgz\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(context.Background(), "--manifest", m, "lock"); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, stderr)
	}
	for i := range 2 {
		if code, _, stderr := run(context.Background(), "--manifest", m, "lock", "--check"); code != 0 {
			t.Fatalf("check %d: exit %d\n%s", i, code, stderr)
		}
	}
	hits := checkMemoHits
	writeCatalog(strings.Repeat("b", 64))
	code, _, stderr := run(context.Background(), "--manifest", m, "lock", "--check")
	if code != 1 || checkMemoHits != hits || !strings.Contains(stderr, "input extension/pglogical/2.4.2: the lock says sha256 "+strings.Repeat("a", 64)) {
		t.Fatalf("the catalog's sha256 changed: exit %d (memo hits %d), want 1 naming the pin\n%s", code, checkMemoHits-hits, stderr)
	}
}
