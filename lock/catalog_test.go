package lock

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

// TestCatalogInputs: an extension selected from the catalog becomes a lock
// input pinned by the catalog's sha256 (Debian's), with its pool URL and
// strip_prefix, resolved offline; a hand-edited sha256 in the lock is
// reported against the catalog, the trust root of that pin.
func TestCatalogInputs(t *testing.T) {
	dir := t.TempDir()
	sha := strings.Repeat("a", 64)
	cat := manifest.Catalog{Extensions: []manifest.CatalogEntry{{Name: "pglogical", SourcePackage: "pglogical", Versions: []manifest.CatalogVersion{{
		Version: "2.4.2", URL: "https://deb.debian.org/debian/pool/main/p/pglogical/pglogical_2.4.2.orig.tar.gz", SHA256: manifest.SHA256(sha), Size: 42,
		Apt: "source:pglogical=2.4.2-3:pglogical_2.4.2.orig.tar.gz", StripPrefix: "pglogical-REL2_4_2", Build: "pgxs", Postgres: "<16", Fetchable: true,
	}}}}}
	b, _ := json.Marshal(cat)
	os.WriteFile(filepath.Join(dir, manifest.CatalogFileName), b, 0o644)
	path := filepath.Join(dir, "monogres.toml")
	os.WriteFile(path, []byte("extensions = [\"pglogical\"]\n[postgres]\nversions = [\"15.18\"]\n[[extension]]\nname = \"pglogical\"\n[[extension.source]]\nurls = [\"https://mirror.example/pglogical-{version}.tgz\"]\n"), 0o644)
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Resolve(context.Background(), m, nil, Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	in, ok := res.Lock.find("extension/pglogical/2.4.2")
	if !ok || in.SHA256 != sha || in.Size != 42 || in.StripPrefix != "pglogical-REL2_4_2" || in.Apt != cat.Extensions[0].Versions[0].Apt ||
		!slices.Equal(in.URLs, []string{cat.Extensions[0].Versions[0].URL, "https://mirror.example/pglogical-2.4.2.tgz"}) {
		t.Fatalf("catalog input %+v (found %v)", in, ok)
	}
	if len(res.Pending) != 0 {
		t.Errorf("pending %v: a catalog pin needs no download", res.Pending)
	}
	bad := *res.Lock
	bad.Inputs = slices.Clone(res.Lock.Inputs)
	for i := range bad.Inputs {
		if bad.Inputs[i].Name == "extension/pglogical/2.4.2" {
			bad.Inputs[i].SHA256 = strings.Repeat("b", 64)
		}
	}
	r := reasons(t, m, &bad)
	if len(r) != 1 || !strings.Contains(r[0], "the lock says sha256 "+strings.Repeat("b", 64)) || !strings.Contains(r[0], filepath.Join(dir, manifest.CatalogFileName)+" (from Debian's signed Sources") {
		t.Errorf("hand-edited catalog pin: %q", r)
	}
}
