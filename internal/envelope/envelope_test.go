package envelope

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/monogres/monogres/internal/keys"
)

const typ = "application/vnd.test+json"

// TestOpen: a signed envelope opens with its key; an altered payload, an
// unknown signer, an unsigned envelope and another payload type do not,
// each saying which.
func TestOpen(t *testing.T) {
	k, _ := keys.Generate("ci")
	other, _ := keys.Generate("ci")
	b, err := Sign(typ, []byte(`{"a":1}`), k)
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewRing(k.Public())
	payload, id, err := Open(b, typ, ring)
	if err != nil || string(payload) != `{"a":1}` || id != k.ID() {
		t.Fatalf("Open = %q, %s, %v", payload, id, err)
	}
	var env dsse.Envelope
	json.Unmarshal(b, &env)
	altered := env
	altered.Payload = base64.StdEncoding.EncodeToString([]byte(`{"a":2}`))
	unsigned := env
	unsigned.Signatures = nil
	enc := func(e dsse.Envelope) []byte { b, _ := json.Marshal(e); return b }
	for _, c := range []struct {
		name, want string
		b          []byte
		ring       *keys.Ring
		typ        string
	}{
		{"altered", "it was altered", enc(altered), ring, typ},
		{"unknown signer", k.ID() + " (not trusted); trusted keys: " + other.ID(), b, keys.NewRing(other.Public()), typ},
		{"unsigned", "unsigned envelope", enc(unsigned), ring, typ},
		{"payload type", `payload type "application/vnd.test+json", want "other"`, b, ring, "other"},
		{"not JSON", "not a DSSE envelope", []byte("{"), ring, typ},
	} {
		if _, _, err := Open(c.b, c.typ, c.ring); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestLibraryVerifies: go-securesystemslib's own verifier, given only the
// raw ed25519 public key, accepts what Sign writes (a third party needs
// no monogres code).
func TestLibraryVerifies(t *testing.T) {
	k, _ := keys.Generate("ci")
	b, _ := Sign(typ, []byte("hello"), k)
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	ev, err := dsse.NewEnvelopeVerifier(libVerifier{k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(context.Background(), &env); err != nil {
		t.Fatalf("the library rejects the envelope: %v", err)
	}
}

type libVerifier struct{ k keys.PublicKey }

func (v libVerifier) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(v.k.Key, data, sig) {
		return errors.New("bad signature")
	}
	return nil
}
func (v libVerifier) KeyID() (string, error)   { return v.k.ID(), nil }
func (v libVerifier) Public() crypto.PublicKey { return v.k.Key }
