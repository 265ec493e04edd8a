package toolchains

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/monogres/monogres/internal/testenv"
)

// The default package lists resolve against the real bookworm index, and
// resolution is deterministic.
func TestResolveDefaultsBookworm(t *testing.T) {
	idx := bookwormIndex(t)
	if len(idx.Release.SHA256) != 64 || len(idx.Packages) != 2 {
		t.Fatalf("index pins: %+v %+v", idx.Release, idx.Packages)
	}
	for _, target := range []string{"amd64", "arm64"} {
		req, err := DefaultRequest(target)
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := Resolve(idx, req)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		again, _ := Resolve(idx, req)
		if d := cmp.Diff(pkgs, again); d != "" {
			t.Errorf("%s: resolution not deterministic:\n%s", target, d)
		}
		var size int64
		arches := map[string]int{}
		for _, p := range pkgs {
			size += p.Size
			arches[p.Arch]++
		}
		t.Logf("%s root: %d packages (%v), %.1f MB of .debs", target, len(pkgs), arches, float64(size)/1e6)
		want := []string{"gcc-12:amd64", "dash:amd64", "clang-14:amd64", "libreadline-dev:amd64"}
		if target == "arm64" {
			want = append(want, "gcc-12-aarch64-linux-gnu:amd64", "qemu-user-static:amd64", "libreadline-dev:arm64", "libc6:arm64")
		}
		got := names(pkgs)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s root lacks %s", target, w)
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
