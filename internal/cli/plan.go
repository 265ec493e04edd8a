package cli

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/toolchains"
)

func init() { register(newPlanCmd) }

func newPlanCmd(e *env) *cobra.Command {
	var asJSON, count bool
	c := &cobra.Command{
		Use:   "plan [GLOB]...",
		Short: "list the matrix of cells and the options each gets",
		Long: `List the cells of the manifest's matrix (or those GLOB matches) with the
options each gets after version constraints and target support; dropped
options are listed with their reasons.`,
		Example: `  monogres plan
  monogres plan --count 'postgres~17.*~*~arm64'
  monogres plan --json 'postgres~15.18~debug~amd64'`,
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, patterns []string) error {
			return runPlan(e, patterns, asJSON, count)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "stream one JSON object per cell")
	c.Flags().BoolVar(&count, "count", false, "print only the number of cells")
	return c
}

func runPlan(e *env, patterns []string, asJSON, count bool) error {
	m, pgs, err := e.app().Matrix()
	if err != nil {
		return err
	}
	_, l, _ := app.ReadLock(e.lockPath) // a missing or bad lock: no dropped roots known
	dropped := toolchains.FromLock(l).Dropped
	w := bufio.NewWriterSize(e.stdout, 1<<16)
	defer w.Flush()
	var buf []byte
	n := 0
	err = plan.Each(m, pgs, func(c *plan.Cell) error {
		if len(patterns) > 0 && !plan.Match(patterns, c.Name) {
			return nil
		}
		n++
		if c.Extension != "" && len(dropped) > 0 {
			// An extension whose packages cannot be resolved for this
			// target: the cell is dropped, with the resolver's reason.
			layer := toolchains.ExtensionLayer(string(c.Arch), c.Extension)
			if why, ok := dropped[layer]; ok {
				c.Drop("toolchain", layer+" cannot be resolved: "+why)
			}
		}
		switch {
		case count:
			return nil
		case asJSON:
			buf = append(c.AppendJSON(buf[:0]), '\n')
			_, err := w.Write(buf)
			return err
		}
		return writeCellLine(w, c)
	})
	if err != nil {
		return err
	}
	if count {
		fmt.Fprintln(w, n)
	}
	if n == 0 && len(patterns) > 0 {
		w.Flush()
		return fmt.Errorf("no cell matches %q%s", patterns, didYouMean(e.app().SuggestCells(patterns...)))
	}
	return nil
}

func writeCellLine(w *bufio.Writer, c *plan.Cell) error {
	w.WriteString(c.Name)
	w.WriteString("  options=")
	for i, o := range c.Options {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(string(o))
	}
	if len(c.Options) == 0 {
		w.WriteString("(none)")
	}
	if len(c.Dropped) > 0 {
		w.WriteString("  dropped=")
		for i, d := range c.Dropped {
			if i > 0 {
				w.WriteString("; ")
			}
			w.WriteString(string(d.Option) + " (" + d.Reason + ")")
		}
	}
	_, err := w.WriteString("\n")
	return err
}
