package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// A check is remembered across processes (a Store opened again on the same
// directory does not re-hash an unchanged entry), and any change to the
// entry (here its mtime) forces a re-hash.
func TestMemoSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a memoized entry")
	sha := sum(data)
	if err := s.Put(ctx, bytes.NewReader(data), sha, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(dir)
	if !s2.Has(sha) {
		t.Fatal("entry not present after reopen")
	}
	if n := s2.hashed.Load(); n != 0 {
		t.Fatalf("an unchanged, checked entry was re-hashed %d times after reopen", n)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(s2.Path(sha), later, later); err != nil {
		t.Fatal(err)
	}
	s3, _ := Open(dir)
	if !s3.Has(sha) || !s2.Has(sha) {
		t.Fatal("touched but intact entry not present")
	}
	if s3.hashed.Load() != 1 || s2.hashed.Load() != 1 {
		t.Fatalf("touched entry re-hashed %d and %d times, want once per Store", s3.hashed.Load(), s2.hashed.Load())
	}
}

// Torn or foreign lines in checked.log are skipped, a "-" line forgets,
// and a log of mostly superseded lines is compacted when read.
func TestMemoLogParseAndCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := Open(dir)
	data := []byte("entry")
	sha := sum(data)
	if err := s.Put(ctx, bytes.NewReader(data), sha, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(s.memoLog())
	if err != nil || !strings.HasPrefix(string(good), sha+" ") {
		t.Fatalf("checked.log after a Put: %q, %v", good, err)
	}
	var b strings.Builder
	other := strings.Repeat("e", 64)
	for i := range 3000 {
		fmt.Fprintf(&b, "%s %d 1 2 3\n", other, i+1)
	}
	b.WriteString(other + " -\n")
	b.WriteString("garbage line\n" + sha[:40] + "\n")
	b.Write(good)
	b.WriteString(sha[:30]) // torn last line
	os.WriteFile(s.memoLog(), []byte(b.String()), 0o644)
	s2, _ := Open(dir)
	if !s2.Has(sha) || s2.hashed.Load() != 0 {
		t.Fatalf("memo lost among torn lines (hashed %d)", s2.hashed.Load())
	}
	if m := s2.memoOf(other); m != (stamp{}) {
		t.Errorf("forgotten memo still there: %v", m)
	}
	after, _ := os.ReadFile(s.memoLog())
	if string(after) != string(good) {
		t.Errorf("log not compacted to its one live line:\n%q", after)
	}
}
