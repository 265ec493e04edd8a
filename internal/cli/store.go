package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/gc"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

func init() { register(newStoreCmd) }

func newStoreCmd(e *env) *cobra.Command {
	add := &cobra.Command{
		Use:   "add FILE...",
		Short: "import files into the store by sha256",
		Long:  "Import files into the store by their sha256 and say which locked inputs each satisfies (for machines that cannot download them).",
		Example: `  monogres store add postgresql-15.18.tar.bz2
  monogres store add /srv/distfiles/*.deb`,
		Args: minArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			st, err := app.OpenStore()
			if err != nil {
				return err
			}
			var inputs []lock.Input
			if _, l, err := app.ReadLock(e.lockPath); err == nil {
				inputs = l.Inputs
			}
			added, err := fetch.AddFiles(e.ctx, st, files, inputs)
			for _, a := range added {
				fmt.Fprintln(e.stdout, a.String())
			}
			return err
		},
	}
	verify := &cobra.Command{
		Use:     "verify",
		Short:   "re-hash every store entry and evict damaged ones",
		Long:    "Re-hash every entry of the store; a damaged entry is evicted (fetch brings it back). Exit 1 when one was damaged.",
		Example: "  monogres store verify",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			st, err := app.OpenStore()
			if err != nil {
				return err
			}
			rep, err := st.Verify(e.ctx, 4)
			for _, c := range rep.Corrupt {
				fmt.Fprintf(e.stdout, "damaged, evicted: %v\n", c)
			}
			fmt.Fprintf(e.stdout, "checked %d entries (%d bytes), %d damaged\n", rep.Checked, rep.Bytes, len(rep.Corrupt))
			if len(rep.Corrupt) > 0 {
				return exitError{code: exitFail}
			}
			return err
		},
	}
	var dry bool
	gcCmd := &cobra.Command{
		Use:   "gc",
		Short: "remove what no registered lock needs",
		Long: `Remove from the store the blobs, actions and toolchain roots that no
registered lock still needs (every lock that ran lock, fetch or build is
registered; a lock file that is gone no longer keeps anything).`,
		Example: "  monogres store gc --dry-run\n  monogres store gc",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			st, err := app.OpenStore()
			if err != nil {
				return err
			}
			return storeGC(e, st, dry)
		},
	}
	gcCmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be removed, and its size")
	return group(&cobra.Command{
		Use:   "store",
		Short: "add files to, verify, or garbage-collect the store",
		Long:  "The content-addressed store is $MONOGRES_STORE, default $XDG_CACHE_HOME/monogres (~/.cache/monogres).",
		Example: `  monogres store add FILE...
  monogres store verify
  monogres store gc --dry-run`,
	}, add, verify, gcCmd)
}

// storeGC collects the store, keeping what every registered lock that
// still exists needs (this project's lock is registered first).
func storeGC(e *env, st *store.Store, dry bool) error {
	if _, err := os.Stat(e.lockPath); err == nil {
		if err := st.Register(e.lockPath, nil); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rep, err := gc.Run(st, dry)
	if err != nil {
		return err
	}
	verb := "removed"
	if dry {
		verb = "would remove"
	}
	for _, l := range rep.Live {
		fmt.Fprintf(e.stdout, "keeping what %s needs\n", l)
	}
	for _, l := range rep.Dead {
		fmt.Fprintf(e.stdout, "%s registration of %s (the lock is gone)\n", verb, l)
	}
	for _, r := range rep.Roots {
		fmt.Fprintf(e.stdout, "%s root %s\n", verb, r)
	}
	for _, a := range rep.Actions {
		fmt.Fprintf(e.stdout, "%s action %s\n", verb, a)
	}
	for _, b := range rep.Blobs {
		fmt.Fprintf(e.stdout, "%s blob %s\n", verb, b)
	}
	fmt.Fprintf(e.stdout, "%s %d blobs, %d actions, %d roots, %d dead registrations (%s, %d bytes); kept %d blobs for %d locks\n",
		verb, len(rep.Blobs), len(rep.Actions), len(rep.Roots), len(rep.Dead), event.FormatBytes(rep.Bytes), rep.Bytes, rep.Kept, len(rep.Live))
	return nil
}
