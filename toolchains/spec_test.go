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
