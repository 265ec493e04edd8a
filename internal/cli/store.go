package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

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
	var verifyJSON bool
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
			t0 := time.Now()
			rep, err := st.Verify(e.ctx, 4)
			if verifyJSON {
				j := storeVerifyJSON{Store: st.Dir(), Checked: rep.Checked, Bytes: rep.Bytes, Corrupt: nonNil(rep.Corrupt), Duration: since(t0)}
				if err != nil {
					j.Error = err.Error()
				}
				writeJSONLine(e.stdout, j)
				if err != nil || len(rep.Corrupt) > 0 {
					return exitError{code: exitFail}
				}
				return nil
			}
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
	verify.Flags().BoolVar(&verifyJSON, "json", false, "print the report as one JSON object (checked, bytes, corrupt, error, duration in seconds)")
	var dry, gcJSON bool
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
			return storeGC(e, st, dry, gcJSON)
		},
	}
	gcCmd.Flags().BoolVar(&dry, "dry-run", false, "list what would be removed, and its size")
	gcCmd.Flags().BoolVar(&gcJSON, "json", false, "print the report as one JSON object (removed blobs, actions, roots, dead registrations, bytes, kept, duration in seconds)")
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
func storeGC(e *env, st *store.Store, dry, asJSON bool) error {
	t0 := time.Now()
	if _, err := os.Stat(e.lockPath); err == nil {
		if err := st.Register(e.lockPath, nil); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rep, err := gc.Run(st, dry)
	if asJSON {
		j := storeGCJSON{DryRun: dry, Blobs: nonNil(rep.Blobs), Actions: nonNil(rep.Actions), Roots: nonNil(rep.Roots), Dead: nonNil(rep.Dead),
			Bytes: rep.Bytes, Live: nonNil(rep.Live), Kept: rep.Kept, Duration: since(t0)}
		if err != nil {
			j.Error = err.Error()
		}
		writeJSONLine(e.stdout, j)
		if err != nil {
			return exitError{code: exitFail}
		}
		return nil
	}
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

// storeVerifyJSON is `store verify --json`.
type storeVerifyJSON struct {
	Store    string   `json:"store"`
	Checked  int      `json:"checked"`
	Bytes    int64    `json:"bytes"`
	Corrupt  []string `json:"corrupt"` // sha256 of damaged entries, evicted
	Error    string   `json:"error,omitempty"`
	Duration float64  `json:"duration"` // seconds
}

// storeGCJSON is `store gc --json`.
type storeGCJSON struct {
	DryRun   bool     `json:"dry_run"` // removed lists what would be removed
	Blobs    []string `json:"blobs"`
	Actions  []string `json:"actions"`
	Roots    []string `json:"roots"`
	Dead     []string `json:"dead_registrations"`
	Bytes    int64    `json:"bytes"`
	Live     []string `json:"live_registrations"`
	Kept     int      `json:"kept_blobs"`
	Error    string   `json:"error,omitempty"`
	Duration float64  `json:"duration"` // seconds
}

// nonNil makes a nil list an empty one ([] in JSON, not null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
