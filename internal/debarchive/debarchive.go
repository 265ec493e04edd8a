// Package debarchive verifies Debian archive metadata against its trust
// root: a Release file's OpenPGP signature (clearsigned InRelease, or
// Release with a detached Release.gpg) against trusted archive keys, and any
// index file (Packages, Sources, ...) against the sha256 and size the
// verified Release lists for it.
//
// Nothing here touches the network or the host's keyring: the keys are
// Debian's, embedded from the debian-archive-keyring package, and callers
// choose which of them to trust by fingerprint.
package debarchive

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// Release is a Release file whose signature verified.
type Release struct {
	Origin, Suite, Codename, Date, ValidUntil string
	// Signer is the fingerprint (upper-case hex) of the trusted primary key
	// that signed it, and SignerName that key's primary user id.
	Signer, SignerName string
	// Files are the SHA256 entries, by path relative to dists/<suite>/.
	Files map[string]File
}

// File is one SHA256 line of a Release file.
type File struct {
	Path   string
	SHA256 string // lower-case hex
	Size   int64
}

// ErrUnsigned reports a Release file without a signature from a trusted key.
var ErrUnsigned = errors.New("not signed by a trusted key")

// VerifyInRelease checks a clearsigned InRelease file against kr and parses
// the signed text (nothing outside the signature is read).
func VerifyInRelease(data []byte, kr *Keyring) (*Release, error) {
	if !bytes.HasPrefix(data, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, fmt.Errorf("InRelease: %w: not an OpenPGP clearsigned message", ErrUnsigned)
	}
	b, rest := clearsign.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("InRelease: %w: malformed clearsigned message", ErrUnsigned)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("InRelease: %d bytes after the signature (only signed text is accepted)", len(rest))
	}
	signer, err := b.VerifySignature(kr.list, nil)
	if err != nil {
		return nil, fmt.Errorf("InRelease: %w", sigError(err, kr))
	}
	return parse(b.Plaintext, signer)
}

// VerifyDetached checks a Release file against its detached signature
// (Release.gpg, armored or binary) and parses it.
func VerifyDetached(release, sig []byte, kr *Keyring) (*Release, error) {
	var signer *openpgp.Entity
	var err error
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP SIGNATURE-----")) {
		signer, err = openpgp.CheckArmoredDetachedSignature(kr.list, bytes.NewReader(release), bytes.NewReader(sig), nil)
	} else {
		signer, err = openpgp.CheckDetachedSignature(kr.list, bytes.NewReader(release), bytes.NewReader(sig), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("Release.gpg: %w", sigError(err, kr))
	}
	return parse(release, signer)
}

// sigError explains a verification failure.
func sigError(err error, kr *Keyring) error {
	if errors.Is(err, pgperrors.ErrUnknownIssuer) {
		return fmt.Errorf("%w (no signature by any of %s)", ErrUnsigned, strings.Join(kr.Fingerprints(), ", "))
	}
	return fmt.Errorf("%w: bad signature: %v", ErrUnsigned, err)
}

func parse(text []byte, signer *openpgp.Entity) (*Release, error) {
	v, err := fields(text)
	if err != nil {
		return nil, fmt.Errorf("Release: %w", err)
	}
	rel := &Release{
		Origin: v["Origin"], Suite: v["Suite"], Codename: v["Codename"], Date: v["Date"], ValidUntil: v["Valid-Until"],
		Signer: fingerprint(signer), Files: map[string]File{},
	}
	if id := signer.PrimaryIdentity(); id != nil {
		rel.SignerName = id.Name
	}
	field := v["SHA256"]
	if field == "" {
		return nil, errors.New("Release: no SHA256 field")
	}
	for line := range strings.Lines(field) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("Release: SHA256 line %q: want \"<sha256> <size> <path>\"", strings.TrimSpace(line))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("Release: SHA256 line %q: bad size", strings.TrimSpace(line))
		}
		sum := strings.ToLower(f[0])
		if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("Release: SHA256 line %q: bad digest", strings.TrimSpace(line))
		}
		rel.Files[f[2]] = File{Path: f[2], SHA256: sum, Size: size}
	}
	return rel, nil
}

// fields reads the first paragraph of a deb822 file: "Key: value" lines,
// continuation lines starting with a space or tab. (pault.ag/go/debian's
// reader is quadratic in a field's length: 30 ms on a Release file.)
func fields(text []byte) (map[string]string, error) {
	out := map[string]string{}
	var key string
	var val strings.Builder
	flush := func() {
		if key != "" {
			out[key] = val.String()
		}
	}
	n := 0
	for line := range strings.Lines(string(text)) {
		n++
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.TrimSpace(line) == "":
			if key != "" {
				flush()
				return out, nil
			}
		case line[0] == ' ' || line[0] == '\t':
			if key == "" {
				return nil, fmt.Errorf("line %d: continuation line without a field", n)
			}
			val.WriteString("\n" + line)
		case line[0] == '#':
		default:
			flush()
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: want \"Field: value\"", n)
			}
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("line %d: field %s repeated", n, k)
			}
			key = k
			val.Reset()
			val.WriteString(strings.TrimSpace(v))
		}
	}
	flush()
	return out, nil
}

// Is reports whether the Release file is for suite (its Suite or Codename),
// so a signed Release of another suite cannot stand in for it.
func (r *Release) Is(suite string) bool { return suite == r.Suite || suite == r.Codename }

// CheckSuite is Is as an error naming both.
func (r *Release) CheckSuite(suite string) error {
	if r.Is(suite) {
		return nil
	}
	return fmt.Errorf("Release file is for suite %q (codename %q), not %q", r.Suite, r.Codename, suite)
}

// CheckDigest reports whether the Release lists path with this sha256 and size.
func (r *Release) CheckDigest(path, sha256 string, size int64) error {
	f, ok := r.Files[path]
	switch {
	case !ok:
		return fmt.Errorf("%s: not listed in the Release file", path)
	case f.Size != size:
		return fmt.Errorf("%s: size %d, the signed Release file says %d", path, size, f.Size)
	case f.SHA256 != sha256:
		return fmt.Errorf("%s: sha256 %s, the signed Release file says %s", path, sha256, f.SHA256)
	}
	return nil
}

// Check verifies data as the file path of the Release.
func (r *Release) Check(path string, data []byte) error {
	return r.CheckDigest(path, sha256Hex(data), int64(len(data)))
}

// SignedBy is "KEY-NAME (FINGERPRINT)", for messages naming the trust root.
func (r *Release) SignedBy() string {
	if r.SignerName == "" {
		return r.Signer
	}
	return r.SignerName + " (" + r.Signer + ")"
}
