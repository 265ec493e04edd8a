// Package keys owns monogres' signing keys: ed25519 key pairs, their text
// form, the key files `monogres key generate` writes, the builder's signing
// key (--signing-key, MONOGRES_SIGNING_KEY, or a local key created on first
// use) and the set of trusted public keys (the manifest's trusted_keys,
// MONOGRES_TRUSTED_KEYS, and the local builder key).
//
// Text forms, one line each, like Nix's signing keys:
//
//	public  NAME:BASE64(32-byte ed25519 public key)
//	private NAME:BASE64(64-byte ed25519 private key)
//
// A key's ID is NAME:HEX16, HEX16 the first 16 hex digits of the sha256 of
// the public key, so two keys given the same name still differ. Documents
// carry the ID; a verifier looks it up among the keys it trusts and checks
// the signature with that key's bytes, never trusting the name alone.
//
// Invariants: a private key file is created with mode 0600 and never
// overwritten; loading one that others can read is an error; the local
// builder key is created at most once even by concurrent processes.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/internal/store"
)

// PublicKey is a named ed25519 public key.
type PublicKey struct {
	Name string
	Key  ed25519.PublicKey
}

// PrivateKey is a named ed25519 private key. It has no String method on
// purpose: printing it by accident shows nothing secret.
type PrivateKey struct {
	name string
	key  ed25519.PrivateKey
}

// ValidName reports whether name may name a key: 1 to 64 characters from
// letters, digits and "._@-", not starting with "-" or ".".
func ValidName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '-' || name[0] == '.' {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._@-", r):
		default:
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("key name %q: use 1 to 64 letters, digits and . _ @ - (not starting with - or .)", name)
	}
	return nil
}

// Generate makes a new key pair named name from crypto/rand.
func Generate(name string) (*PrivateKey, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{name: name, key: priv}, nil
}

// Name is the key's name.
func (k *PrivateKey) Name() string { return k.name }

// Public is the public half of k.
func (k *PrivateKey) Public() PublicKey {
	return PublicKey{Name: k.name, Key: k.key.Public().(ed25519.PublicKey)}
}

// ID is the ID of k's public key.
func (k *PrivateKey) ID() string { return k.Public().ID() }

// Sign signs msg (ed25519, deterministic: the same key and message give the
// same signature).
func (k *PrivateKey) Sign(msg []byte) []byte { return ed25519.Sign(k.key, msg) }

// Encode is the private key's text form with a trailing newline.
func (k *PrivateKey) Encode() []byte {
	return []byte(k.name + ":" + base64.StdEncoding.EncodeToString(k.key) + "\n")
}

// String is the public key's text form, NAME:BASE64.
func (p PublicKey) String() string {
	return p.Name + ":" + base64.StdEncoding.EncodeToString(p.Key)
}

// ID is NAME:HEX16 (see the package doc).
func (p PublicKey) ID() string {
	h := sha256.Sum256(p.Key)
	return p.Name + ":" + hex.EncodeToString(h[:8])
}

// Verify reports whether sig is p's signature of msg.
func (p PublicKey) Verify(msg, sig []byte) bool {
	return len(p.Key) == ed25519.PublicKeySize && ed25519.Verify(p.Key, msg, sig)
}

// MarshalText implements encoding.TextMarshaler (the public text form).
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so a manifest's
// trusted_keys entries are checked as they are decoded.
func (p *PublicKey) UnmarshalText(b []byte) error {
	k, err := ParsePublic(string(b))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// ParsePublic parses NAME:BASE64 (surrounding space ignored).
func ParsePublic(s string) (PublicKey, error) {
	name, b, err := split(s, ed25519.PublicKeySize, "public")
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{Name: name, Key: ed25519.PublicKey(b)}, nil
}

// ParsePrivate parses a private key's text form.
func ParsePrivate(s string) (*PrivateKey, error) {
	name, b, err := split(s, ed25519.PrivateKeySize, "private")
	if err != nil {
		return nil, err
	}
	priv := ed25519.PrivateKey(b)
	// The second half of an ed25519 private key is its public key: a key
	// whose halves disagree is corrupt and would sign unverifiably.
	if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
		return nil, fmt.Errorf("private key %q is corrupt: its public half does not match its seed", name)
	}
	return &PrivateKey{name: name, key: priv}, nil
}

func split(s string, size int, what string) (string, []byte, error) {
	s = strings.TrimSpace(s)
	// Errors quote a public key whole (so a manifest error can point at
	// it) but only the start of anything that may be a secret.
	quote := abbrev(s)
	if what == "public" {
		quote = s
	}
	name, enc, ok := strings.Cut(s, ":")
	if !ok {
		return "", nil, fmt.Errorf("%s key %q: want NAME:BASE64", what, quote)
	}
	if err := checkName(name); err != nil {
		return "", nil, fmt.Errorf("%s key %q: %w", what, quote, err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("%s key %q: bad base64: %v", what, quote, err)
	}
	if what == "public" && len(b) == ed25519.PrivateKeySize {
		return "", nil, fmt.Errorf("public key %q: this is a private key: give its NAME.pub instead, and make a new key (this one has leaked)", abbrev(s))
	}
	if len(b) != size {
		return "", nil, fmt.Errorf("%s key %q: %d bytes, an ed25519 %s key has %d", what, quote, len(b), what, size)
	}
	return name, b, nil
}

// abbrev shortens s for an error message (it may be a secret pasted in the
// wrong place: show only its start).
func abbrev(s string) string {
	if len(s) > 12 {
		return s[:12] + "..."
	}
	return s
}

// WriteFiles writes k as dir/NAME.key (mode 0600) and dir/NAME.pub (0644,
// the public text form and a newline). It refuses to overwrite either.
func WriteFiles(dir string, k *PrivateKey) (keyPath, pubPath string, err error) {
	keyPath = filepath.Join(dir, k.name+".key")
	pubPath = filepath.Join(dir, k.name+".pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists: not overwriting a key", p)
		}
	}
	if err := createExclusive(keyPath, k.Encode(), 0o600); err != nil {
		return "", "", err
	}
	if err := createExclusive(pubPath, []byte(k.Public().String()+"\n"), 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// createExclusive writes a new file at path (store.CreateFileAtomic): it
// appears whole or not at all, and an existing path is never replaced.
func createExclusive(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := store.CreateFileAtomic(path, data, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: not overwriting a key", path)
		}
		return err
	}
	return nil
}

// LoadPrivate reads a private key file. A file that group or others may
// read or write is refused (like ssh does), naming the fix.
func LoadPrivate(path string) (*PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s: mode %04o lets others read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := ParsePrivate(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPublic reads a public key file (NAME.pub).
func LoadPublic(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, err
	}
	p, err := ParsePublic(string(b))
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
