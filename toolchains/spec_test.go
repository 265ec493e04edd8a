package toolchains

import (
	"slices"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

// An extension's per-target entry NAME:ARCH takes the place of NAME in that
// target's root only: pgmemcache's arm64 cells link against the arm64
// libmemcached (the amd64 and arm64 -dev packages are not
// co-installable), while build tools stay the host's.
func TestExtensionTargetPackagesReplaceAllTargetOnes(t *testing.T) {
	m := &manifest.Manifest{
		Postgres: manifest.Postgres{Targets: []manifest.Arch{"amd64", "arm64"}},
		Extensions: []manifest.Extension{{Name: "pgmemcache", Packages: []string{"libmemcached-dev", "libsasl2-dev", "bison"},
			Target: map[string]manifest.ToolchainTarget{"arm64": {Packages: []string{"libmemcached-dev:arm64", "libsasl2-dev:arm64"}}}}},
	}
	got := map[string][]string{}
	for _, l := range ManifestSpec(m).Layers {
		got[l.Name] = l.Packages
	}
	if want := []string{"libmemcached-dev", "libsasl2-dev", "bison"}; !slices.Equal(got["amd64~ext:pgmemcache"], want) {
		t.Errorf("amd64 layer %v, want %v", got["amd64~ext:pgmemcache"], want)
	}
	if want := []string{"bison", "libmemcached-dev:arm64", "libsasl2-dev:arm64"}; !slices.Equal(got["arm64~ext:pgmemcache"], want) {
		t.Errorf("arm64 layer %v, want %v", got["arm64~ext:pgmemcache"], want)
	}
}

// Request is memoized per layer list: a second call gives the same
// packages and key for another cell with the same layers, and a caller
// changing the returned packages does not change what the next call gets.
func TestRequestMemo(t *testing.T) {
	r := &Resolved{Layers: map[string][]Package{
		"amd64":          {{Name: "libc6", Arch: "amd64", Version: "1", SHA256: "a"}},
		"amd64~opt:zlib": {{Name: "zlib1g-dev", Arch: "amd64", Version: "2", SHA256: "b"}},
	}}
	c := Cell{Target: "amd64", Options: []string{"zlib"}}
	first, err := r.Request(c)
	if err != nil {
		t.Fatal(err)
	}
	first.Packages[0].Name = "changed"
	again, err := r.Request(Cell{Target: "amd64", Options: []string{"zlib"}, Requires: nil})
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != first.Key || len(again.Packages) != 2 || again.Packages[0].Name != "libc6" || again.Cell.Target != "amd64" {
		t.Errorf("second request %+v, first key %s", again, first.Key)
	}
	if other, _ := r.Request(Cell{Target: "amd64"}); other.Key == first.Key || len(other.Packages) != 1 {
		t.Errorf("a cell with other layers got %+v", other)
	}
}
