package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables.
const (
	// SigningKeyEnv holds the path of the builder's private key file, or
	// the private key's text form itself (a CI secret).
	SigningKeyEnv = "MONOGRES_SIGNING_KEY"
	// TrustedKeysEnv holds public keys (text forms or paths of .pub
	// files) separated by spaces, commas or newlines.
	TrustedKeysEnv = "MONOGRES_TRUSTED_KEYS"
)

// ConfigDir is $XDG_CONFIG_HOME/monogres (default ~/.config/monogres).
func ConfigDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("keys: no config directory for the local builder key: set XDG_CONFIG_HOME or pass --signing-key (%v)", err)
	}
	return filepath.Join(d, "monogres"), nil
}

// builderName names the local builder key after the host.
func builderName() string {
	h, _ := os.Hostname()
	var b strings.Builder
	for _, r := range h {
		if ValidName(string(r)) || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	name := "builder@" + b.String()
	if !ValidName(name) {
		return "builder"
	}
	return name
}

// BuilderKey returns the local builder key, ConfigDir()/builder.key,
// creating it (and builder.pub) on first use.
func BuilderKey() (*PrivateKey, error) {
	dir, err := ConfigDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "builder.key")
	if k, err := LoadPrivate(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err := Generate(builderName())
	if err != nil {
		return nil, err
	}
	if err := createExclusive(path, k.Encode(), 0o600); err != nil {
		// Another process created it first: use that one.
		if _, serr := os.Stat(path); serr == nil {
			return LoadPrivate(path)
		}
		return nil, fmt.Errorf("keys: creating the local builder key: %w", err)
	}
	pub := filepath.Join(dir, "builder.pub")
	if err := os.WriteFile(pub, []byte(k.Public().String()+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return k, nil
}

// builderPublic is the local builder's public key, if it exists.
func builderPublic() (PublicKey, bool) {
	dir, err := ConfigDir()
	if err != nil {
		return PublicKey{}, false
	}
	k, err := LoadPrivate(filepath.Join(dir, "builder.key"))
	if err != nil {
		return PublicKey{}, false
	}
	return k.Public(), true
}

// Signer is the key builds sign with: the file flag names (--signing-key),
// else MONOGRES_SIGNING_KEY (a file path or the key itself), else the local
// builder key.
func Signer(flag string) (*PrivateKey, error) {
	if flag != "" {
		return LoadPrivate(flag)
	}
	if v := strings.TrimSpace(os.Getenv(SigningKeyEnv)); v != "" {
		if k, err := ParsePrivate(v); err == nil {
			return k, nil
		}
		k, err := LoadPrivate(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SigningKeyEnv, err)
		}
		return k, nil
	}
	return BuilderKey()
}

// Ring is a set of trusted public keys.
type Ring struct{ keys []PublicKey }

// NewRing trusts keys.
func NewRing(keys ...PublicKey) *Ring {
	r := &Ring{}
	for _, k := range keys {
		r.Add(k)
	}
	return r
}

// Add trusts k (again adding a key already trusted does nothing).
func (r *Ring) Add(k PublicKey) {
	if _, ok := r.Lookup(k.ID()); !ok {
		r.keys = append(r.keys, k)
	}
}

// Lookup returns the trusted key with id.
func (r *Ring) Lookup(id string) (PublicKey, bool) {
	for _, k := range r.keys {
		if k.ID() == id {
			return k, true
		}
	}
	return PublicKey{}, false
}

// Keys lists the trusted keys in the order they were added.
func (r *Ring) Keys() []PublicKey { return append([]PublicKey(nil), r.keys...) }

// IDs lists the trusted key IDs, for error messages.
func (r *Ring) IDs() string {
	if len(r.keys) == 0 {
		return "none"
	}
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID()
	}
	return strings.Join(ids, ", ")
}

// Trusted is the ring a consumer checks signatures against: the
// manifest's trusted_keys, the keys in MONOGRES_TRUSTED_KEYS, and the local
// builder key if it exists.
func Trusted(manifestKeys []PublicKey) (*Ring, error) {
	r := NewRing(manifestKeys...)
	env, err := fromEnv()
	if err != nil {
		return nil, err
	}
	for _, k := range env {
		r.Add(k)
	}
	if k, ok := builderPublic(); ok {
		r.Add(k)
	}
	return r, nil
}

func fromEnv() ([]PublicKey, error) {
	var out []PublicKey
	for _, f := range strings.FieldsFunc(os.Getenv(TrustedKeysEnv), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		k, err := ParsePublic(f)
		if err != nil {
			var ferr error
			if k, ferr = LoadPublic(f); ferr != nil {
				return nil, fmt.Errorf("%s: %q is neither a public key (%v) nor a readable .pub file (%v)", TrustedKeysEnv, abbrev(f), err, ferr)
			}
		}
		out = append(out, k)
	}
	return out, nil
}
