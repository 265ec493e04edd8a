package toolchains

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/monogres/monogres/internal/testenv"
)

// The default layers resolve against the real bookworm index,
// deterministically, and a cell's root holds its options' libraries only.
func TestResolveDefaultsBookworm(t *testing.T) {
	idx := bookwormIndex(t)
	if len(idx.Release.SHA256) != 64 || len(idx.Packages) != 2 {
		t.Fatalf("index pins: %+v %+v", idx.Release, idx.Packages)
	}
	spec := DefaultSpec("amd64", "arm64")
	res, err := ResolveSpec(idx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ResolveSpec(idx, spec, nil)
	if d := cmp.Diff(res, again, cmpopts.IgnoreUnexported(Resolved{})); d != "" {
		t.Errorf("resolution not deterministic:\n%s", d)
	}
	regular := []string{"nls", "readline", "openssl", "uuid", "zlib", "icu", "llvm", "lz4", "plpython", "systemd", "zstd"}
	for _, tc := range []struct {
		cell      Cell
		want, not []string
	}{
		{Cell{Target: "amd64"}, []string{"gcc-12:amd64", "dash:amd64", "make:amd64"}, []string{"clang-14:amd64", "libreadline-dev:amd64", "libssl-dev:amd64"}},
		{Cell{Target: "amd64", Options: regular}, []string{"gcc-12:amd64", "clang-14:amd64", "libreadline-dev:amd64", "libicu-dev:amd64"}, []string{"libkrb5-dev:amd64"}},
		{Cell{Target: "arm64"}, []string{"gcc-12-aarch64-linux-gnu:amd64", "qemu-user-static:amd64", "libc6:arm64"}, []string{"libreadline-dev:arm64", "libreadline-dev:amd64"}},
		{Cell{Target: "arm64", Options: regular}, []string{"libreadline-dev:arm64", "libssl-dev:arm64"}, []string{"clang-14:amd64", "libssl-dev:amd64"}},
	} {
		pkgs, err := res.Packages(tc.cell)
		if err != nil {
			t.Fatalf("%v: %v", tc.cell, err)
		}
		var size int64
		for _, p := range pkgs {
			size += p.Size
		}
		t.Logf("%s %d options: %d packages, %.1f MB of .debs", tc.cell.Target, len(tc.cell.Options), len(pkgs), float64(size)/1e6)
		got := names(pkgs)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%v root lacks %s", tc.cell, w)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("%v root has %s, which none of its layers asks for", tc.cell, n)
			}
		}
	}
}

// Local apt lists are an index source too; when apt's InRelease is the
// one the archive serves now, both sources pin the same Packages digest.
func TestLoadAptLists(t *testing.T) {
	testenv.RequireRoot(t, "chroot and apt-get")
	const lists = "/var/lib/apt/lists"
	src := Source{BaseURL: DefaultBaseURL, Suite: DefaultSuite, Components: []string{"main"}, Arches: []string{"amd64"}}
	if _, err := os.Stat(filepath.Join(lists, aptListPrefix(src.distsURL())+"InRelease")); err != nil {
		if out, err := exec.Command("apt-get", "update", "-q").CombinedOutput(); err != nil {
			t.Fatalf("apt-get update: %v\n%s", err, out)
		}
	}
	idx, err := LoadAptLists(lists, src)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Len() < 50000 || len(idx.Lookup("gcc-12")) == 0 {
		t.Fatalf("apt lists index has %d stanzas, gcc-12: %v", idx.Len(), idx.Lookup("gcc-12"))
	}
	pkgs, err := Resolve(idx, gccRequest())
	if err != nil {
		t.Fatal(err)
	}
	if pkgs[0].URL == "" || pkgs[0].URL[:len(DefaultBaseURL)] != DefaultBaseURL {
		t.Errorf("URL %q not under %s", pkgs[0].URL, DefaultBaseURL)
	}
	web := bookwormIndex(t)
	if web.Release.SHA256 != idx.Release.SHA256 {
		t.Logf("apt lists are from another Release (%s) than the archive's (%s): not comparing", idx.Release.SHA256, web.Release.SHA256)
		return
	}
	if idx.Packages[0].SHA256 != web.Packages[0].SHA256 {
		t.Errorf("Packages digest from apt lists %s != from HTTP %s", idx.Packages[0].SHA256, web.Packages[0].SHA256)
	}
	// A foreign arch without lists names the fix.
	src.Arches = []string{"mips64el"}
	if _, err := LoadAptLists(lists, src); err == nil {
		t.Error("mips64el lists: want an error")
	}
}
