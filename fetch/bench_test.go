package fetch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// benchParallel fetches 200 inputs of 1 MiB from a loopback server into a
// fresh store with the given jobs; latency is added before each response
// (0 = plain loopback). It returns the mean wall time per run.
func benchParallel(b *testing.B, jobs int, latency time.Duration) time.Duration {
	const n = 200
	var inputs []lock.Input
	mux := http.NewServeMux()
	for i := range n {
		data := blob(1<<20, uint64(1000+i))
		p := fmt.Sprintf("/f%d", i)
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(latency)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		})
		inputs = append(inputs, input(fmt.Sprintf("in/%03d", i), data, p))
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for i := range inputs {
		inputs[i].URLs = []string{srv.URL + inputs[i].URLs[0]}
	}
	var total time.Duration
	for range b.N {
		st := newStore(b)
		f := &Fetcher{Store: st, Jobs: jobs}
		start := time.Now()
		if err := f.Fetch(context.Background(), inputs); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	return total / time.Duration(b.N)
}

// BenchmarkParallel200x1MiB reports Jobs=8 vs Jobs=1 for 200 files of 1 MiB
// from a loopback server, with no added latency and with 20 ms per request
// (closer to a real mirror).
func BenchmarkParallel200x1MiB(b *testing.B) {
	for _, lat := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", lat), func(b *testing.B) {
			t1 := benchParallel(b, 1, lat)
			t8 := benchParallel(b, 8, lat)
			b.ReportMetric(t1.Seconds()*1000, "j1-ms")
			b.ReportMetric(t8.Seconds()*1000, "j8-ms")
			b.ReportMetric(200/t8.Seconds(), "j8-MiB/s")
			b.ReportMetric(t1.Seconds()/t8.Seconds(), "j8/j1-speedup")
		})
	}
}

// noopStore is a store holding 10,000 small inputs, built once per test
// binary: its 10,000 fsynced Puts take minutes on a busy disk, and every
// run of BenchmarkNoopFetch10k only reads it.
var noopStore struct {
	once   sync.Once
	dir    string
	inputs []lock.Input
	err    error
}

func noopFetchStore(b *testing.B) (*store.Store, []lock.Input) {
	noopStore.once.Do(func() {
		noopStore.dir, noopStore.err = os.MkdirTemp("", "noopfetch-")
		if noopStore.err != nil {
			return
		}
		st, err := store.Open(noopStore.dir)
		if err != nil {
			noopStore.err = err
			return
		}
		ctx := context.Background()
		noopStore.inputs = make([]lock.Input, 10000)
		for i := range noopStore.inputs {
			data := []byte(fmt.Sprintf("input %d", i))
			noopStore.inputs[i] = input(fmt.Sprintf("deb/amd64/pkg%05d", i), data, "https://unreachable.invalid/x")
			if err := st.Put(ctx, bytes.NewReader(data), noopStore.inputs[i].SHA256, noopStore.inputs[i].Size); err != nil {
				noopStore.err = err
				return
			}
		}
	})
	if noopStore.err != nil {
		b.Fatal(noopStore.err)
	}
	st, err := store.Open(noopStore.dir)
	if err != nil {
		b.Fatal(err)
	}
	return st, noopStore.inputs
}

// BenchmarkNoopFetch10k is a no-op Fetch of 10,000 locked inputs all present
// (and checked before) in the store (target: under 300 ms).
func BenchmarkNoopFetch10k(b *testing.B) {
	st, inputs := noopFetchStore(b)
	ctx := context.Background()
	rec := &recorder{}
	f := &Fetcher{Store: st, Jobs: 8, Sink: rec}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := f.Fetch(ctx, inputs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/fetch")
}
