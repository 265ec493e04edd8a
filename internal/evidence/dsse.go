package evidence

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
)

// signer and verifier adapt internal/keys to DSSE.
type signer struct{ k *keys.PrivateKey }

func (s signer) Sign(_ context.Context, data []byte) ([]byte, error) { return s.k.Sign(data), nil }
func (s signer) KeyID() (string, error)                              { return s.k.ID(), nil }

type verifier struct{ k keys.PublicKey }

func (v verifier) Verify(_ context.Context, data, sig []byte) error {
	if !v.k.Verify(data, sig) {
		return errors.New("bad signature")
	}
	return nil
}
func (v verifier) KeyID() (string, error)   { return v.k.ID(), nil }
func (v verifier) Public() crypto.PublicKey { return v.k.Key }

// Sign wraps s in a DSSE envelope signed with k: one JSON line, as in-toto's
// .intoto.jsonl bundles hold them.
func Sign(s *intoto.Statement, k *keys.PrivateKey) ([]byte, error) {
	payload, err := canonical(s)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(signer{k})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(env)
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
	var vs []Verifier
	for _, k := range ring.Keys() {
		vs = append(vs, verifier{k})
	}
	var out []Verified
	for i, line := range bytes.Split(bundle, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, i+1)
		v, err := verifyOne(where, line, pkgSHA, vs, ring)
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

// Verifier is dsse.Verifier, named here so the slice type reads well.
type Verifier = dsse.Verifier

func verifyOne(where string, line []byte, pkgSHA string, vs []Verifier, ring *keys.Ring) (Verified, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return Verified{}, fmt.Errorf("%s: not a DSSE envelope: %v", where, err)
	}
	if env.PayloadType != PayloadType {
		return Verified{}, fmt.Errorf("%s: payload type %q, want %q", where, env.PayloadType, PayloadType)
	}
	if len(env.Signatures) == 0 {
		return Verified{}, fmt.Errorf("%s: unsigned envelope", where)
	}
	if len(vs) == 0 {
		return Verified{}, fmt.Errorf("%s: no trusted keys: add the signer's public key to trusted_keys in monogres.toml, %s, or pass --key", where, keys.TrustedKeysEnv)
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return Verified{}, err
	}
	accepted, err := ev.Verify(context.Background(), &env)
	if err != nil || len(accepted) == 0 {
		var ids []string
		for _, s := range env.Signatures {
			id := s.KeyID
			if _, ok := ring.Lookup(id); ok {
				id += " (trusted, but the signature does not match the content: it was altered)"
			} else {
				id += " (not trusted)"
			}
			ids = append(ids, id)
		}
		return Verified{}, fmt.Errorf("%s: no valid signature by a trusted key: signed by %s; trusted keys: %s", where, strings.Join(ids, ", "), ring.IDs())
	}
	payload, err := env.DecodeB64Payload()
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
			return Verified{PredicateType: s.PredicateType, Subject: sub.Name, SHA256: pkgSHA, KeyID: accepted[0].KeyID, Statement: &s}, nil
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
