package remote

import (
	"fmt"
	"os"
	"strings"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/keys"
)

// Settings choose the remote cache of a run: the flag, else EnvURL, else
// the manifest's remote_cache.
type Settings struct {
	URL, ManifestURL string
	ReadOnly         bool // --remote-cache-read-only (or EnvReadOnly)
	// SigningKey is --signing-key (keys.Signer: else MONOGRES_SIGNING_KEY,
	// else the local builder key).
	SigningKey string
	// TrustedKeys are the manifest's trusted_keys (keys.Trusted adds
	// MONOGRES_TRUSTED_KEYS and the local builder key).
	TrustedKeys []keys.PublicKey
	Warn        func(string)
}

// New is the Cache s selects, or nil when no cache is configured.
func New(s Settings) (*Cache, error) {
	u, from := s.URL, "--remote-cache"
	if u == "" {
		u, from = os.Getenv(EnvURL), EnvURL
	}
	if u == "" {
		u, from = s.ManifestURL, "remote_cache in the manifest"
	}
	if u == "" {
		return nil, nil
	}
	c, err := NewClient(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	ring, err := keys.Trusted(s.TrustedKeys)
	if err != nil {
		return nil, err
	}
	limits, err := fetch.LimitsFromEnv()
	if err != nil {
		return nil, err
	}
	ro := s.ReadOnly
	if v := strings.ToLower(os.Getenv(EnvReadOnly)); v == "1" || v == "true" || v == "yes" {
		ro = true
	}
	cache := &Cache{Client: c, Trusted: ring, ReadOnly: ro, Limits: limits, Warn: s.Warn}
	if !ro {
		if cache.Signer, err = keys.Signer(s.SigningKey); err != nil {
			return nil, fmt.Errorf("remote cache uploads are signed: %w (or use --remote-cache-read-only)", err)
		}
	}
	return cache, nil
}
