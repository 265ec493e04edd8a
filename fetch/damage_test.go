package fetch

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/monogres/monogres/lock"
)

// Issue 10 finding 7: a store entry with a flipped byte (same size) was
// "present" to fetch. It is store damage now: evicted and fetched again.
func TestFlippedByteRefetched(t *testing.T) {
	data := blob(1<<20, 7)
	srv := newServer(t, map[string]http.HandlerFunc{"/pg.tar.bz2": serve(data)})
	st := newStore(t)
	rec := &recorder{}
	f := fetcher(st)
	f.Sink = rec
	in := input("postgres/15.18", data, srv.URL+"/pg.tar.bz2")
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatal(err)
	}
	p := st.Path(in.SHA256)
	b, _ := os.ReadFile(p)
	b[len(b)/3] ^= 0x20
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := f.Fetch(context.Background(), []lock.Input{in}); err != nil {
		t.Fatalf("fetch after damage: %v", err)
	}
	if n := len(srv.requests("/pg.tar.bz2")); n != 2 {
		t.Errorf("damaged entry was not fetched again (%d requests)", n)
	}
	got, _ := os.ReadFile(p)
	if sum(got) != in.SHA256 {
		t.Fatal("store still holds the damaged bytes")
	}
	if l := rec.logs(in.Name); !strings.Contains(l, "store damage") || strings.Contains(l, "lock") && strings.Contains(l, "inconsistent") {
		t.Errorf("logs do not report store damage:\n%s", l)
	}
	t.Log(rec.logs(in.Name))
}
