// Package envelope signs and opens DSSE envelopes with monogres' ed25519
// keys (internal/keys): the one DSSE implementation that attestations
// (internal/evidence) and remote cache entries (remote) share. The
// envelope is go-securesystemslib's; the signature is over its PAE.
package envelope

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/monogres/monogres/internal/keys"
)

// Sign returns the JSON DSSE envelope of payload, signed by k.
func Sign(payloadType string, payload []byte, k *keys.PrivateKey) ([]byte, error) {
	return json.Marshal(dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{
			KeyID: k.ID(),
			Sig:   base64.StdEncoding.EncodeToString(k.Sign(dsse.PAE(payloadType, payload))),
		}},
	})
}

// FormatError is an envelope Open cannot read, or of another payload
// type: no signature was checked.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return e.Msg }

// Open checks the JSON DSSE envelope b: its payload type must be
// payloadType and one of its signatures a valid one by a key in ring. It
// returns the payload and the signer's key ID. Errors say which: a
// FormatError ("not a DSSE envelope", "payload type"), "unsigned", or
// every signer marked "(not trusted)" or "(trusted, but the signature does not match the content:
// it was altered)".
func Open(b []byte, payloadType string, ring *keys.Ring) (payload []byte, keyID string, err error) {
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, "", &FormatError{fmt.Sprintf("not a DSSE envelope: %v", err)}
	}
	if env.PayloadType != payloadType {
		return nil, "", &FormatError{fmt.Sprintf("payload type %q, want %q", env.PayloadType, payloadType)}
	}
	payload, err = env.DecodeB64Payload()
	if err != nil {
		return nil, "", &FormatError{fmt.Sprintf("payload: %v", err)}
	}
	if len(env.Signatures) == 0 {
		return nil, "", fmt.Errorf("unsigned envelope")
	}
	pae := dsse.PAE(env.PayloadType, payload)
	var signers []string
	for _, s := range env.Signatures {
		pub, ok := ring.Lookup(s.KeyID)
		if !ok {
			signers = append(signers, s.KeyID+" (not trusted)")
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || !pub.Verify(pae, sig) {
			signers = append(signers, s.KeyID+" (trusted, but the signature does not match the content: it was altered)")
			continue
		}
		return payload, s.KeyID, nil
	}
	return nil, "", fmt.Errorf("no valid signature by a trusted key: signed by %s; trusted keys: %s", strings.Join(signers, ", "), ring.IDs())
}
