package cli

import (
	"fmt"

	"github.com/monogres/monogres/internal/keys"
)

// runKey is `monogres key generate NAME [--dir DIR]` and `monogres key
// public [--signing-key FILE]`.
func runKey(e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"want a subcommand: key generate NAME | key public"}
	}
	switch args[0] {
	case "generate":
		fl := flags("key generate", e.stderr)
		dir := fl.String("dir", ".", "directory that receives NAME.key and NAME.pub")
		pos, err := parse(fl, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError{"key generate: want one NAME"}
		}
		k, err := keys.Generate(pos[0])
		if err != nil {
			return usageError{err.Error()}
		}
		kp, pp, err := keys.WriteFiles(*dir, k)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s (private: pass it as --signing-key or %s; keep it secret)\n", kp, keys.SigningKeyEnv)
		fmt.Fprintf(e.stdout, "wrote %s (public: add it to trusted_keys in monogres.toml)\n", pp)
		fmt.Fprintf(e.stdout, "key id %s\n", k.ID())
		return nil
	case "public":
		fl := flags("key public", e.stderr)
		sk := fl.String("signing-key", "", "private key file (default: $"+keys.SigningKeyEnv+", else the local builder key)")
		pos, err := parse(fl, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return usageError{"key public: takes no arguments"}
		}
		k, err := keys.Signer(*sk)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, k.Public().String())
		return nil
	}
	return usageError{fmt.Sprintf("unknown key subcommand %q: want generate or public", args[0])}
}
