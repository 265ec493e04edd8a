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
	fast, _, err := decodeCanonical(b)
	if err != nil {
		t.Fatalf("the canonical decoder rejected the repository's monogres.lock: %v", err)
	}
	slow, err := decodeTOML("monogres.lock", b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(slow, fast); d != "" {
		t.Errorf("fast and TOML decoding differ (-toml +fast):\n%s", d)
	}
}
