package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/monogres/monogres/internal/evidence"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/manifest"
)

// runAttest is `monogres attest verify ATTESTATION PACKAGE [--key FILE]`.
func runAttest(e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError{"want: attest verify ATTESTATION PACKAGE [--key FILE]"}
	}
	fl := flags("attest verify", e.stderr)
	var keyFiles stringList
	fl.Var(&keyFiles, "key", "trust only this public key file (NAME.pub; repeatable) instead of trusted_keys, "+keys.TrustedKeysEnv+" and the local builder key")
	pos, err := parse(fl, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError{"attest verify: want ATTESTATION PACKAGE"}
	}
	ring, err := e.trustedKeys(keyFiles)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	vs, err := evidence.Verify(pos[0], b, pos[1], ring)
	if err != nil {
		return exitError{exitFail, "monogres attest verify: FAILED: " + err.Error()}
	}
	for _, v := range vs {
		fmt.Fprintf(e.stdout, "OK %s: %s sha256:%s signed by %s (%s)\n", pos[1], v.Subject, v.SHA256, v.KeyID, v.PredicateType)
	}
	return nil
}

// trustedKeys is the ring attest verify checks against: the --key files
// alone, or the manifest's trusted_keys (when a manifest is there) with
// MONOGRES_TRUSTED_KEYS and the local builder key.
func (e *env) trustedKeys(files []string) (*keys.Ring, error) {
	if len(files) > 0 {
		r := keys.NewRing()
		for _, f := range files {
			k, err := keys.LoadPublic(f)
			if err != nil {
				return nil, err
			}
			r.Add(k)
		}
		return r, nil
	}
	var fromManifest []keys.PublicKey
	m, err := manifest.Load(e.manifestPath)
	switch {
	case err == nil:
		fromManifest = m.TrustedKeys
	case errors.Is(err, fs.ErrNotExist) && e.manifestPath == defaultManifest:
		// No manifest here: trust the environment and the local key only.
	default:
		return nil, err
	}
	return keys.Trusted(fromManifest)
}
