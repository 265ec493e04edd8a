package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/keys"
)

func init() { register(newKeyCmd) }

func newKeyCmd(e *env) *cobra.Command {
	var dir, signingKey string
	gen := &cobra.Command{
		Use:     "generate NAME",
		Short:   "generate a signing key pair NAME.key and NAME.pub",
		Example: `  monogres key generate ci-1 --dir keys`,
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := keys.Generate(args[0])
			if err != nil {
				return usageError{err.Error()}
			}
			kp, pp, err := keys.WriteFiles(dir, k)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s (private: pass it as --signing-key or %s; keep it secret)\n", kp, keys.SigningKeyEnv)
			fmt.Fprintf(e.stdout, "wrote %s (public: add it to trusted_keys in monogres.toml)\n", pp)
			fmt.Fprintf(e.stdout, "key id %s\n", k.ID())
			return nil
		},
	}
	gen.Flags().StringVar(&dir, "dir", ".", "directory that receives NAME.key and NAME.pub")
	pub := &cobra.Command{
		Use:     "public",
		Short:   "print the signing key's public key",
		Example: "  monogres key public --signing-key keys/ci-1.key",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := keys.Signer(signingKey)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, k.Public().String())
			return nil
		},
	}
	pub.Flags().StringVar(&signingKey, "signing-key", "", "private key file (default: $"+keys.SigningKeyEnv+", else the local builder key)")
	return group(&cobra.Command{
		Use:   "key",
		Short: "generate a signing key pair (key generate NAME) or print the signing key's public key (key public)",
		Example: `  monogres key generate ci-1 --dir keys
  monogres key public`,
	}, gen, pub)
}
