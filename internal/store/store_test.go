package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func open(t testing.TB) *Store {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tmpEntries(t testing.TB, s *Store) []string {
	ents, err := os.ReadDir(s.TmpDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestPutOpen(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := []byte("hello, store")
	sha := sum(data)
	if s.Has(sha) {
		t.Fatal("Has before Put")
	}
	if err := s.Put(ctx, bytes.NewReader(data), sha, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if !s.Has(sha) {
		t.Fatal("not Has after Put")
	}
	f, err := s.Open(sha)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("Open read %q", got)
	}
	fi, _ := os.Stat(s.Path(sha))
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("entry mode %v, want read-only", fi.Mode())
	}
	// Put of a present entry does not read the reader.
	if err := s.Put(ctx, iotestErrReader{}, sha, 0); err != nil {
		t.Errorf("second Put: %v", err)
	}
	if left := tmpEntries(t, s); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestPutMismatchStoresNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	want := sum([]byte("good"))
	err := s.Put(ctx, strings.NewReader("evil"), want, 4)
	var me *MismatchError
	if !errors.As(err, &me) || me.GotSHA256 != sum([]byte("evil")) {
		t.Fatalf("err = %v", err)
	}
	// Size too large is refused while writing.
	err = s.Put(ctx, strings.NewReader("goodgood"), want, 4)
	if !errors.As(err, &me) {
		t.Fatalf("oversize err = %v", err)
	}
	// Size mismatch with the right hash of other bytes.
	err = s.Put(ctx, strings.NewReader("good"), want, 5)
	if !errors.As(err, &me) {
		t.Fatalf("size err = %v", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Fatalf("cas/ has %v", l)
	}
}

func TestCorruptEvicted(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := []byte("pristine bytes")
	sha := sum(data)
	if err := s.Put(ctx, bytes.NewReader(data), sha, 0); err != nil {
		t.Fatal(err)
	}
	p := s.Path(sha)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("tampered bytes"), 0o644)
	_, err := s.Open(sha)
	var ce *DamageError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, sum([]byte("tampered bytes"))) {
		t.Fatalf("Open corrupt: %v", err)
	}
	t.Log(err)
	if s.Has(sha) {
		t.Error("corrupt entry not evicted")
	}

	// Verify finds and evicts corruption, and passes otherwise.
	other := []byte("other")
	s.Put(ctx, bytes.NewReader(data), sha, 0)
	s.Put(ctx, bytes.NewReader(other), sum(other), 0)
	rep, err := s.Verify(ctx, 2)
	if err != nil || rep.Checked != 2 {
		t.Fatalf("Verify clean: %+v %v", rep, err)
	}
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("x"), 0o644)
	rep, err = s.Verify(ctx, 2)
	if err == nil || len(rep.Corrupt) != 1 || rep.Corrupt[0] != sha {
		t.Fatalf("Verify corrupt: %+v %v", rep, err)
	}
	if s.Has(sha) || !s.Has(sum(other)) {
		t.Error("wrong entries evicted")
	}
}

func TestResumeWriter(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	sha := sum(data)
	w, err := s.Create(ctx, sha, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:4000])
	w.Discard() // interrupted: partial kept
	if s.Has(sha) {
		t.Fatal("partial committed")
	}
	w, err = s.Create(ctx, sha, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 4000 {
		t.Fatalf("resumed at %d", w.Offset())
	}
	w.Write(data[4000:])
	if got, n, err := w.Commit(); err != nil || got != sha || n != int64(len(data)) {
		t.Fatalf("Commit = %s %d %v", got, n, err)
	}
	if _, err := s.Create(ctx, sha, 0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create of present entry: %v", err)
	}
	if left := tmpEntries(t, s); len(left) != 0 {
		t.Errorf("tmp/ not empty: %v", left)
	}
}

func TestConcurrentWritersSameBlob(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	data := bytes.Repeat([]byte("x"), 3<<20)
	sha := sum(data)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Store values behave like separate processes.
			s2, _ := Open(s.Dir())
			errs[i] = s2.Put(ctx, bytes.NewReader(data), sha, int64(len(data)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Verify(ctx, 2); err != nil {
		t.Fatal(err)
	}
}

func TestAddFileAndGC(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	dir := t.TempDir()
	var shas []string
	for _, c := range []string{"a", "bb", "ccc"} {
		p := filepath.Join(dir, c)
		os.WriteFile(p, []byte(c), 0o644)
		sha, size, err := s.AddFile(ctx, p)
		if err != nil || sha != sum([]byte(c)) || size != int64(len(c)) {
			t.Fatalf("AddFile %s = %s %d %v", c, sha, size, err)
		}
		shas = append(shas, sha)
	}
	if _, _, err := s.AddFile(ctx, dir); err == nil {
		t.Error("AddFile of a directory succeeded")
	}
	keep := map[string]bool{shas[0]: true}
	rep, err := s.GC(keep, true)
	if err != nil || len(rep.Removed) != 2 || rep.Bytes != 5 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if l, _ := s.List(); len(l) != 3 {
		t.Fatal("dry run removed entries")
	}
	rep, err = s.GC(keep, false)
	if err != nil || len(rep.Removed) != 2 || rep.Kept != 1 {
		t.Fatalf("gc: %+v %v", rep, err)
	}
	if l, _ := s.List(); len(l) != 1 || l[0] != shas[0] {
		t.Fatalf("after gc: %v", l)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("MONOGRES_STORE", "/x/store")
	if d, _ := DefaultDir(); d != "/x/store" {
		t.Errorf("MONOGRES_STORE: %s", d)
	}
	t.Setenv("MONOGRES_STORE", "")
	t.Setenv("XDG_CACHE_HOME", "/y/cache")
	if d, _ := DefaultDir(); d != "/y/cache/monogres" {
		t.Errorf("XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/z")
	if d, _ := DefaultDir(); d != "/home/z/.cache/monogres" {
		t.Errorf("HOME: %s", d)
	}
}

// Issue 10 finding 7: a same-size entry with a flipped byte, a truncated
// one and one replaced by a symlink were all "present". Each is now store
// damage, evicted, whatever the memo of an earlier check says.
func TestDamagedEntriesAreNotPresent(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("postgres "), 10000)
	sha := sum(data)
	damage := map[string]func(p string){
		"flipped-byte": func(p string) {
			b := bytes.Clone(data)
			b[len(b)/2] ^= 1
			os.Chmod(p, 0o644)
			os.WriteFile(p, b, 0o644)
		},
		"truncated": func(p string) { os.Chmod(p, 0o644); os.Truncate(p, int64(len(data)/2)) },
		"symlink": func(p string) {
			other := filepath.Join(filepath.Dir(p), "..", "..", "elsewhere")
			os.WriteFile(other, data, 0o644)
			os.Remove(p)
			os.Symlink(other, p)
		},
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			if err := s.Put(ctx, bytes.NewReader(data), sha, int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if !s.Has(sha) { // memoized now
				t.Fatal("fresh entry not present")
			}
			fn(s.Path(sha))
			_, err := s.Check(sha)
			var de *DamageError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "store damage") {
				t.Fatalf("Check of a %s entry: %v", name, err)
			}
			t.Log(err)
			if _, err := os.Lstat(s.Path(sha)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("damaged entry not evicted: %v", err)
			}
			if s.Has(sha) {
				t.Error("damaged entry still present")
			}
			// The store repairs by fetching again.
			if err := s.Put(ctx, bytes.NewReader(data), sha, int64(len(data))); err != nil || !s.Has(sha) {
				t.Fatalf("re-put: %v", err)
			}
		})
	}
}

func TestValidSHA256(t *testing.T) {
	a := strings.Repeat("ab", 32)
	for s, ok := range map[string]bool{a: true, strings.Repeat("0", 64): true, a[:63]: false, a + "a": false, strings.ToUpper(a): false, strings.Repeat("g", 64): false, "": false} {
		if ValidSHA256(s) != ok {
			t.Errorf("ValidSHA256(%q) = %v", s, !ok)
		}
	}
}
