// Package debarchivetest signs Release files with a key made for the test,
// for tests that need a local Debian archive monogres will trust. Only tests
// import it.
package debarchivetest

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/monogres/monogres/internal/debarchive"
)

// Signer is an archive signing key.
type Signer struct {
	e *openpgp.Entity
}

// NewSigner makes a fresh Ed25519 signing key.
func NewSigner(t testing.TB) *Signer {
	t.Helper()
	e, err := openpgp.NewEntity("monogres test archive", "", "archive@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{e: e}
}

// Fingerprint is the key's fingerprint as manifests name it.
func (s *Signer) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(s.e.PrimaryKey.Fingerprint))
}

// PublicKey is the armored public key, as a keyring file holds it.
func (s *Signer) PublicKey(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b.WriteByte('\n')
	return b.Bytes()
}

// Keyring is a keyring trusting only this key.
func (s *Signer) Keyring(t testing.TB) *debarchive.Keyring {
	t.Helper()
	kr, err := debarchive.ReadKeyring(bytes.NewReader(s.PublicKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// ClearSign returns release as a clearsigned InRelease file.
func (s *Signer) ClearSign(t testing.TB, release []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, s.e.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(release); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// DetachSign returns an armored detached signature of release (Release.gpg).
func (s *Signer) DetachSign(t testing.TB, release []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.e, bytes.NewReader(release), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
