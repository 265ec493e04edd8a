package toolchains

import (
	"context"
	"testing"
	"time"
)

func TestScratchBookworm(t *testing.T) {
	t0 := time.Now()
	idx, err := FetchIndex(context.Background(), nil, Source{BaseURL: DefaultBaseURL, Suite: DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64", "arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("index %d stanzas in %v; release %+v; %+v", idx.Len(), time.Since(t0), idx.Release, idx.Packages)
	for _, tgt := range []string{"amd64", "arm64"} {
		req, _ := DefaultRequest(tgt)
		t1 := time.Now()
		pkgs, err := Resolve(idx, req)
		if err != nil {
			t.Error(err)
			continue
		}
		var size int64
		for _, p := range pkgs {
			size += p.Size
		}
		t.Logf("%s: %d packages, %d MB in %v", tgt, len(pkgs), size>>20, time.Since(t1))
		if tgt == "arm64" {
			for _, p := range pkgs {
				if p.Arch == "arm64" {
					t.Log(p)
				}
			}
		}
	}
}
