package debarchive

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// The public keys of debian-archive-keyring 2023.3+deb12u2 (Debian 12's
// package: the bullseye, bookworm and trixie archive, security and stable
// release keys), copied unchanged from its /etc/apt/trusted.gpg.d.
//
//go:embed keys/*.asc
var keyFiles embed.FS

// Debian12Keys are the fingerprints trusted by default: Debian 12
// (bookworm)'s archive automatic signing key, security archive key and
// stable release key. Debian signs every suite's Release (sid included)
// with the current stable archive key among others.
var Debian12Keys = []string{
	"B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8", // Debian Archive Automatic Signing Key (12/bookworm)
	"05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0", // Debian Security Archive Automatic Signing Key (12/bookworm)
	"4D64FEC119C2029067D6E791F8D2585B8783D481", // Debian Stable Release Key (12/bookworm)
}

// Keyring is a set of OpenPGP public keys.
type Keyring struct{ list openpgp.EntityList }

// DebianKeyring returns every key of the embedded debian-archive-keyring.
func DebianKeyring() *Keyring {
	files, err := keyFiles.ReadDir("keys")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	kr := &Keyring{}
	for _, f := range files {
		b, err := keyFiles.ReadFile("keys/" + f.Name())
		if err != nil {
			panic(err)
		}
		k, err := ReadKeyring(bytes.NewReader(b))
		if err != nil {
			panic(fmt.Sprintf("debarchive: embedded key %s: %v", f.Name(), err))
		}
		kr.list = append(kr.list, k.list...)
	}
	return kr
}

// ReadKeyring reads public keys, armored or binary.
func ReadKeyring(r io.Reader) (*Keyring, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	var list openpgp.EntityList
	if bytes.Contains(b[:min(len(b), 1024)], []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		// An .asc file may hold several armored blocks.
		for rest := b; len(bytes.TrimSpace(rest)) > 0; {
			i := bytes.Index(rest, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
			if i < 0 {
				break
			}
			end := bytes.Index(rest[i:], []byte("-----END PGP PUBLIC KEY BLOCK-----"))
			if end < 0 {
				return nil, fmt.Errorf("keyring: unterminated armored key block")
			}
			end += i + len("-----END PGP PUBLIC KEY BLOCK-----")
			l, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(rest[i:end]))
			if err != nil {
				return nil, fmt.Errorf("keyring: %w", err)
			}
			list = append(list, l...)
			rest = rest[end:]
		}
	} else {
		if list, err = openpgp.ReadKeyRing(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("keyring: no public keys")
	}
	return &Keyring{list: list}, nil
}

// Add returns a keyring holding the keys of k and o.
func (k *Keyring) Add(o *Keyring) *Keyring {
	return &Keyring{list: slices.Concat(k.list, o.list)}
}

// Select returns the keys of k whose primary key fingerprint is listed
// (hex, any case, spaces ignored). A fingerprint k lacks is an error: a
// manifest naming a key monogres does not have must not silently trust less.
func (k *Keyring) Select(fingerprints []string) (*Keyring, error) {
	out := &Keyring{}
	for _, want := range fingerprints {
		norm := NormalizeFingerprint(want)
		i := slices.IndexFunc(k.list, func(e *openpgp.Entity) bool { return fingerprint(e) == norm })
		if i < 0 {
			return nil, fmt.Errorf("no public key with fingerprint %s (known: %s)", want, strings.Join(k.Fingerprints(), ", "))
		}
		out.list = append(out.list, k.list[i])
	}
	if len(out.list) == 0 {
		return nil, fmt.Errorf("no trusted keys selected")
	}
	return out, nil
}

// Fingerprints lists the primary key fingerprints of k, in order.
func (k *Keyring) Fingerprints() []string {
	out := make([]string, len(k.list))
	for i, e := range k.list {
		out[i] = fingerprint(e)
	}
	return out
}

// Digest identifies the exact key material of k, for memo keys.
func (k *Keyring) Digest() string {
	h := sha256.New()
	for _, e := range k.list {
		e.Serialize(h)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NormalizeFingerprint upper-cases f and drops spaces and a 0x prefix.
func NormalizeFingerprint(f string) string {
	f = strings.ToUpper(strings.ReplaceAll(f, " ", ""))
	return strings.TrimPrefix(f, "0X")
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
