package evidence

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/monogres/monogres/internal/envelope"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
)

// Sign wraps s in a DSSE envelope signed with k: one JSON line, as in-toto's
// .intoto.jsonl bundles hold them.
func Sign(s *intoto.Statement, k *keys.PrivateKey) ([]byte, error) {
	payload, err := canonical(s)
	if err != nil {
		return nil, err
	}
	b, err := envelope.Sign(PayloadType, payload, k)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Verified is one checked attestation.
type Verified struct {
	PredicateType string
	Subject       string // the subject's name
	SHA256        string // the subject's (and the package's) digest
	KeyID         string // the trusted key that signed it
	Statement     *intoto.Statement
}

// Verify checks every envelope in an .intoto.jsonl bundle: each must be
// signed by a key in ring, hold an in-toto v1 statement, and name the
// package at pkgPath (by sha256) as its subject. name labels errors.
func Verify(name string, bundle []byte, pkgPath string, ring *keys.Ring) ([]Verified, error) {
	pkgSHA, err := fileSHA256(pkgPath)
	if err != nil {
		return nil, err
	}
	var out []Verified
	for i, line := range bytes.Split(bundle, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, i+1)
		v, err := verifyOne(where, line, pkgSHA, ring)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no attestation in the file", name)
	}
	return out, nil
}

func verifyOne(where string, line []byte, pkgSHA string, ring *keys.Ring) (Verified, error) {
	if len(ring.Keys()) == 0 {
		return Verified{}, fmt.Errorf("%s: no trusted keys: add the signer's public key to trusted_keys in monogres.toml, %s, or pass --key", where, keys.TrustedKeysEnv)
	}
	payload, keyID, err := envelope.Open(line, PayloadType, ring)
	if err != nil {
		return Verified{}, fmt.Errorf("%s: %v", where, err)
	}
	var s intoto.Statement
	if err := protojson.Unmarshal(payload, &s); err != nil {
		return Verified{}, fmt.Errorf("%s: payload is not an in-toto statement: %v", where, err)
	}
	if err := s.Validate(); err != nil {
		return Verified{}, fmt.Errorf("%s: %v", where, err)
	}
	for _, sub := range s.Subject {
		if sub.GetDigest()["sha256"] == pkgSHA {
			return Verified{PredicateType: s.PredicateType, Subject: sub.Name, SHA256: pkgSHA, KeyID: keyID, Statement: &s}, nil
		}
	}
	var want []string
	for _, sub := range s.Subject {
		want = append(want, sub.Name+" sha256:"+sub.GetDigest()["sha256"])
	}
	return Verified{}, fmt.Errorf("%s: the package has sha256 %s but the attestation is about %s", where, pkgSHA, strings.Join(want, ", "))
}

func fileSHA256(path string) (string, error) {
	sha, _, err := store.HashFile(context.Background(), path)
	return sha, err
}
