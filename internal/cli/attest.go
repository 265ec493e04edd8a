package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/evidence"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/manifest"
)

func init() { register(newAttestCmd) }

func newAttestCmd(e *env) *cobra.Command {
	var keyFiles []string
	verify := &cobra.Command{
		Use:   "verify ATTESTATION PACKAGE",
		Short: "check a signed attestation (provenance, verification summary) against a package",
		Long: `Check that ATTESTATION (CELL.intoto.jsonl or CELL.vsa.intoto.jsonl) is signed
by a trusted key and names PACKAGE's sha256. Trusted keys: the --key files
alone, else the manifest's trusted_keys, $` + keys.TrustedKeysEnv + ` and the local builder key.
Exit 1 when it does not verify.`,
		Example: "  monogres attest verify out/postgres~15.18~regular~amd64.intoto.jsonl out/postgres~15.18~regular~amd64.tar.zst --key ci-1.pub",
		Args:    exactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return runAttestVerify(e, args[0], args[1], keyFiles)
		},
	}
	verify.Flags().StringArrayVar(&keyFiles, "key", nil, "trust only this public key file (NAME.pub; repeatable) instead of trusted_keys, "+keys.TrustedKeysEnv+" and the local builder key")
	return group(&cobra.Command{
		Use:     "attest",
		Short:   "check a signed attestation (provenance, verification summary) against a package (attest verify)",
		Example: "  monogres attest verify ATTESTATION PACKAGE [--key FILE]",
	}, verify)
}

// runAttestVerify is `monogres attest verify ATTESTATION PACKAGE`.
func runAttestVerify(e *env, attestation, pkg string, keyFiles []string) error {
	pos := []string{attestation, pkg}
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
