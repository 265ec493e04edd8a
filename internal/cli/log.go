package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
)

func init() { register(newLogCmd) }

func newLogCmd(e *env) *cobra.Command {
	var follow bool
	var tail int
	c := &cobra.Command{
		Use:   "log CELL",
		Short: "print the log of a cell's last build (-f follows a running one)",
		Long: `Print the build log of the cell's newest build the store keeps (a failed or
interrupted one too). With -f, keep printing what a running build appends
until it ends: exit 0 when it recorded its result, 1 when it ended without
one (failed or interrupted).`,
		Example: `  monogres log 'postgres~15.18~barebones~amd64'
  monogres log -f 'postgres~18.6~regular~amd64'
  monogres log -n 40 'postgres~15.18~regular~arm64'`,
		Args:              exactArgs(1),
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, args []string) error {
			return runLog(e, args[0], follow, tail)
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow a running build's log until the build ends")
	c.Flags().IntVarP(&tail, "lines", "n", 0, "print only the last N lines (0: all)")
	return c
}

func runLog(e *env, cell string, follow bool, tail int) error {
	in, err := e.cellInfo(cell)
	if err != nil {
		return err
	}
	path := lastLog(in)
	if path == "" {
		return fmt.Errorf("no build of %s has run on this store (monogres build %s)", cell, cell)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if tail > 0 {
		s, err := app.LogTail(path, tail)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, s)
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	} else if _, err := io.Copy(e.stdout, f); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	key := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".log"), ".verify")
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := io.Copy(e.stdout, f); err != nil {
			return err
		}
		if !openByAnyProcess(path) {
			io.Copy(e.stdout, f)
			if _, ok, _ := build.Lookup(st, key); ok {
				return nil
			}
			return exitError{exitFail, fmt.Sprintf("monogres log: the build of %s ended without a result (failed or interrupted)", cell)}
		}
		select {
		case <-e.ctx.Done():
			return e.ctx.Err()
		case <-tick.C:
		}
	}
}

// openByAnyProcess reports whether a process has path open for writing or
// reading (the engine keeps a build's log open while the build runs), by
// looking at /proc/*/fd.
func openByAnyProcess(path string) bool {
	want, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	procs, _ := os.ReadDir("/proc")
	self := fmt.Sprint(os.Getpid())
	for _, p := range procs {
		if p.Name() == self || p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == want {
				return true
			}
		}
	}
	return false
}
