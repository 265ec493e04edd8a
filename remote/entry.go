package remote

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/monogres/monogres/internal/envelope"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/lock"
)

// PayloadType is the DSSE payload type of an action-cache entry.
const PayloadType = "application/vnd.monogres.remote-entry.v1+json"

// EntryFormat is Entry.Format.
const EntryFormat = "monogres-remote-entry-1"

// Digest is a REAPI Digest: a blob's hex sha256 and size.
type Digest struct {
	Hash      string `json:"hash"`
	SizeBytes int64  `json:"size_bytes"`
}

// Entry is what {base}/ac/{action key} holds, as the payload of a DSSE
// envelope signed by the builder: the result of one action, naming its
// blobs in {base}/cas/ by digest.
type Entry struct {
	Format    string  `json:"format"`
	Cell      string  `json:"cell"`
	ActionKey string  `json:"action_key"`
	Package   Digest  `json:"package"`
	Manifest  Digest  `json:"manifest"`
	Log       *Digest `json:"log,omitempty"`
}

// Sign encodes e as a DSSE envelope signed by k.
func Sign(e Entry, k *keys.PrivateKey) ([]byte, error) {
	e.Format = EntryFormat
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return envelope.Sign(PayloadType, payload, k)
}

// RefusedError is an entry the cache holds but monogres will not use: the
// cell is built locally instead.
type RefusedError struct {
	Key    string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("remote cache entry ac/%s refused: %s", e.Key, e.Reason)
}

// maxEntry bounds an ac document (a real one is under 1 KiB).
const maxEntry = 64 << 10

// Open checks a DSSE envelope read from ac/key: it must be signed by a
// key in ring with a valid signature over an entry for key. It returns
// the entry and the signer's key ID.
func Open(key string, b []byte, ring *keys.Ring) (Entry, string, error) {
	refuse := func(format string, args ...any) (Entry, string, error) {
		return Entry{}, "", &RefusedError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) > maxEntry {
		return refuse("%d bytes, more than the %d an entry may have", len(b), maxEntry)
	}
	payload, keyID, err := envelope.Open(b, PayloadType, ring)
	var ferr *envelope.FormatError
	if errors.As(err, &ferr) {
		return refuse("not a signed monogres entry (a DSSE envelope with payload type %s): %v", PayloadType, err)
	}
	if err != nil {
		return refuse("%v (add the builder's key to trusted_keys in monogres.toml or %s)", err, keys.TrustedKeysEnv)
	}
	var e Entry
	if err := json.Unmarshal(payload, &e); err != nil {
		return refuse("signed by %s but not an entry: %v", keyID, err)
	}
	if err := e.check(key); err != nil {
		return refuse("signed by %s but %v", keyID, err)
	}
	return e, keyID, nil
}

func (e Entry) check(key string) error {
	switch {
	case e.Format != EntryFormat:
		return fmt.Errorf("format %q, want %q", e.Format, EntryFormat)
	case e.ActionKey != key:
		return fmt.Errorf("it is the entry of action %s, not %s", e.ActionKey, key)
	case !lock.ValidSHA256(e.Package.Hash) || !lock.ValidSHA256(e.Manifest.Hash) || (e.Log != nil && !lock.ValidSHA256(e.Log.Hash)):
		return errors.New("a blob digest is not a sha256")
	case e.Package.SizeBytes <= 0 || e.Manifest.SizeBytes <= 0:
		return errors.New("a blob has no size")
	}
	return nil
}
