package lock

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRepositoryLockFastPath: the repository's own monogres.lock (with its
// Debian packages) takes the fast decoder and decodes as TOML does.
func TestRepositoryLockFastPath(t *testing.T) {
	b, err := os.ReadFile("../monogres.lock")
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := decodeCanonical(b)
	if !ok {
		t.Fatal("the fast decoder rejected the repository's monogres.lock")
	}
	slow, err := decodeTOML("monogres.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(slow, fast); d != "" {
		t.Errorf("fast and TOML decoding differ (-toml +fast):\n%s", d)
	}
}
