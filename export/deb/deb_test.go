package deb_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/export/deb"
	"github.com/monogres/monogres/export/exporttest"
)

func TestWriteDeterministicAndReadable(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	src := t.TempDir()
	cell := "postgres~15.18~barebones~amd64"
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"bin/postgres": exporttest.HostELF(t), "share/postgresql.conf.sample": []byte("# x\n")})
	c := deb.Cell{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Version: "15.18", OptionSet: "barebones", RootVersions: map[string]string{"libc6": "2.36-9+deb12u13"}}
	a, err := deb.Write(t.TempDir(), c, deb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := deb.Write(t.TempDir(), c, deb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two exports of the same package differ")
	}
	if !strings.HasSuffix(a, "/monogres-postgres-15.18-barebones_15.18_amd64.deb") {
		t.Errorf("file name %s", a)
	}
	info, err := exec.Command("dpkg-deb", "--info", a).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --info: %v\n%s", err, info)
	}
	for _, want := range []string{"Package: monogres-postgres-15.18-barebones", "Version: 15.18", "Architecture: amd64", "Depends: libc6 (>= 2.36)"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	contents, err := exec.Command("dpkg-deb", "--contents", a).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, contents)
	}
	if !strings.Contains(string(contents), "./opt/monogres/postgres-15.18-barebones/bin/postgres") {
		t.Errorf("contents:\n%s", contents)
	}
	// Another prefix.
	p, err := deb.Write(t.TempDir(), c, deb.Options{Prefix: "/usr/lib/postgresql/15"})
	if err != nil {
		t.Fatal(err)
	}
	contents, _ = exec.Command("dpkg-deb", "--contents", p).CombinedOutput()
	if !strings.Contains(string(contents), "./usr/lib/postgresql/15/bin/postgres") {
		t.Errorf("--prefix: contents:\n%s", contents)
	}
	if _, err := deb.Write(t.TempDir(), c, deb.Options{Prefix: "relative"}); err == nil {
		t.Error("a relative prefix was accepted")
	}
}

func TestUnknownRuntimeDependency(t *testing.T) {
	src := t.TempDir()
	cell := "postgres~15.18~regular~amd64"
	// An ELF needing a library monogres cannot name a package for: find
	// one on the host that links more than libc.
	elf, err := os.ReadFile("/usr/bin/xz")
	if err != nil {
		t.Skip("no /usr/bin/xz")
	}
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"bin/postgres": elf})
	_, err = deb.Write(t.TempDir(), deb.Cell{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Version: "15.18"}, deb.Options{})
	if err == nil || !strings.Contains(err.Error(), "liblzma.so.5") || !strings.Contains(err.Error(), "records no runtime dependencies") {
		t.Errorf("unknown library: %v", err)
	}
}

func TestExtensionDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	src := t.TempDir()
	cell := "pg_similarity~1.0~postgres~15.18~barebones~amd64"
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"lib/pg_similarity.so": exporttest.HostELF(t), "share/extension/pg_similarity.control": []byte("x\n")})
	p, err := deb.Write(t.TempDir(), deb.Cell{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Version: "1.0", Extension: "pg_similarity", Parent: "postgres~15.18~barebones~amd64"}, deb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := exec.Command("dpkg-deb", "--info", p).CombinedOutput()
	if !strings.Contains(string(info), "Depends: libc6, monogres-postgres-15.18-barebones") || !strings.Contains(string(info), "Package: monogres-pg-similarity-1.0-postgres-15.18-barebones") {
		t.Errorf("info:\n%s", info)
	}
	contents, _ := exec.Command("dpkg-deb", "--contents", p).CombinedOutput()
	if !strings.Contains(string(contents), "./opt/monogres/postgres-15.18-barebones/share/extension/pg_similarity.control") {
		t.Errorf("the extension is not in its Postgres deb's prefix:\n%s", contents)
	}
}

// TestRecordedRuntimeDepends: with the runtime closure CELL.json records,
// Depends names its Debian packages (bundled libraries excluded), even a
// library monogres could not name a package for from the ELF alone.
func TestRecordedRuntimeDepends(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	elf, err := os.ReadFile("/usr/bin/xz")
	if err != nil {
		t.Skip("no /usr/bin/xz")
	}
	src := t.TempDir()
	cell := "postgres~15.18~regular~amd64"
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"bin/postgres": elf})
	m.Runtime = []build.Library{
		{Soname: "liblzma.so.5", Package: "liblzma5", Version: "5.4.1-1", Arch: "amd64"},
		{Soname: "libc.so.6", Package: "libc6", Version: "2.36-9+deb12u13", Arch: "amd64"},
		{Soname: "libfoo.so.1", Package: "libfoo1", Version: "1-1", Arch: "amd64", Bundled: true},
	}
	p, err := deb.Write(t.TempDir(), deb.Cell{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Version: "15.18"}, deb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := exec.Command("dpkg-deb", "--field", p, "Depends").CombinedOutput()
	if got := strings.TrimSpace(string(info)); got != "libc6 (>= 2.36), liblzma5 (>= 5.4.1)" {
		t.Errorf("Depends: %s", got)
	}
}
