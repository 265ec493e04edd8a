package manifest

import (
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/keys"
)

func TestTrustedKeys(t *testing.T) {
	a, _ := keys.Generate("ci")
	b, _ := keys.Generate("release")
	m, err := Parse("monogres.toml", []byte("trusted_keys = [\""+a.Public().String()+"\", \""+b.Public().String()+"\"]\n"+minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.TrustedKeys) != 2 || m.TrustedKeys[0].ID() != a.ID() || m.TrustedKeys[1].ID() != b.ID() {
		t.Fatalf("trusted_keys = %v", m.TrustedKeys)
	}
	plain, _ := Parse("monogres.toml", []byte(minimal))
	if plain.Digest() != m.Digest() {
		t.Error("trusted_keys changed the manifest digest (and so would make the lock stale)")
	}
	// A bad key names file, line, column and field.
	bad := "trusted_keys = [\n  \"" + a.Public().String() + "\",\n  \"ci:AAAA\",\n]\n" + minimal
	_, err = Parse("monogres.toml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "monogres.toml:3:") || !strings.Contains(err.Error(), "trusted_keys") || !strings.Contains(err.Error(), "3 bytes") {
		t.Errorf("bad key error: %v", err)
	}
}
