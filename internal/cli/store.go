package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/gc"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

func runStore(e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: monogres store add FILE... | verify | gc [--dry-run]"}
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		if len(args) < 2 {
			return usageError{"usage: monogres store add FILE..."}
		}
		var inputs []lock.Input
		if _, l, err := app.ReadLock(e.lockPath); err == nil {
			inputs = l.Inputs
		}
		added, err := fetch.AddFiles(e.ctx, st, args[1:], inputs)
		for _, a := range added {
			fmt.Fprintln(e.stdout, a.String())
		}
		return err
	case "verify":
		rep, err := st.Verify(e.ctx, 4)
		for _, c := range rep.Corrupt {
			fmt.Fprintf(e.stdout, "damaged, evicted: %v\n", c)
		}
		fmt.Fprintf(e.stdout, "checked %d entries (%d bytes), %d damaged\n", rep.Checked, rep.Bytes, len(rep.Corrupt))
		if len(rep.Corrupt) > 0 {
			return exitError{code: exitFail}
		}
		return err
	case "gc":
		fl := flags("store gc", e.stderr)
		dry := fl.Bool("dry-run", false, "list what would be removed, and its size")
		if _, err := parse(fl, args[1:]); err != nil {
			return err
		}
		return storeGC(e, st, *dry)
	}
	return usageError{fmt.Sprintf("unknown store command %q (add, verify, gc)", args[0])}
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
