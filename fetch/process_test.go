package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// TestMain doubles as a fetch process for TestTwoProcesses: with
// MONOGRES_FETCH_HELPER set, the test binary fetches the JSON inputs in
// $MONOGRES_FETCH_INPUTS into the store $MONOGRES_STORE and exits.
func TestMain(m *testing.M) {
	if os.Getenv("MONOGRES_FETCH_HELPER") == "1" {
		os.Exit(helperFetch())
	}
	code := m.Run()
	if noopStore.dir != "" {
		os.RemoveAll(noopStore.dir)
	}
	os.Exit(code)
}

func helperFetch() int {
	var inputs []lock.Input
	if err := json.Unmarshal([]byte(os.Getenv("MONOGRES_FETCH_INPUTS")), &inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := store.Open(os.Getenv("MONOGRES_STORE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f := &Fetcher{Store: st, Jobs: 4, Backoff: 10 * time.Millisecond}
	if err := f.Fetch(context.Background(), inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestTwoProcesses(t *testing.T) {
	var inputs []lock.Input
	routes := map[string]http.HandlerFunc{}
	for i := range 6 {
		data := blob(4<<20, uint64(100+i))
		p := fmt.Sprintf("/blob%d", i)
		// Slow enough that both processes are fetching at the same time.
		routes[p] = func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(200 * time.Millisecond)
			serve(data)(w, r)
		}
		inputs = append(inputs, input(fmt.Sprintf("in/%d", i), data, srvPlaceholder+p))
	}
	srv := newServer(t, routes)
	for i := range inputs {
		inputs[i].URLs[0] = srv.URL + inputs[i].URLs[0][len(srvPlaceholder):]
	}
	js, _ := json.Marshal(inputs)
	dir := t.TempDir()
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "MONOGRES_FETCH_HELPER=1", "MONOGRES_STORE="+dir, "MONOGRES_FETCH_INPUTS="+string(js))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := st.Verify(context.Background(), 2)
	if err != nil || rep.Checked != len(inputs) {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// The per-entry lock made the second process wait and find the blob,
	// instead of downloading it again.
	total := 0
	for i := range inputs {
		total += len(srv.requests(fmt.Sprintf("/blob%d", i)))
	}
	t.Logf("%d inputs, %d downloads by two processes", len(inputs), total)
	if total != len(inputs) {
		t.Errorf("%d downloads for %d inputs: the same blob was downloaded twice", total, len(inputs))
	}
	assertNoPartials(t, st)
}

const srvPlaceholder = "http://placeholder"

func assertNoPartials(t *testing.T, st *store.Store) {
	t.Helper()
	ents, _ := os.ReadDir(st.TmpDir())
	for _, e := range ents {
		if len(e.Name()) > 5 && e.Name()[len(e.Name())-5:] != ".lock" {
			t.Errorf("tmp/ holds %s", e.Name())
		}
	}
}
