package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/plan"
)

// completeCells completes cell names of the manifest's matrix (for
// `monogres completion`).
func (e *env) completeCells(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	m, pgs, err := e.app().Matrix()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	_ = plan.Each(m, pgs, func(c *plan.Cell) error {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Name)
		}
		return nil
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeInputs completes input names of the lock.
func (e *env) completeInputs(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	e.setPaths()
	_, l, err := app.ReadLock(e.lockPath)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, in := range l.Inputs {
		if strings.HasPrefix(in.Name, prefix) {
			out = append(out, in.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeInputsAndCells completes lock input names, and cell names once
// the word looks like one (it has a ~, or starts a cell's first part).
func (e *env) completeInputsAndCells(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	ins, _ := e.completeInputs(cmd, args, prefix)
	cells, _ := e.completeCells(cmd, args, prefix)
	return append(ins, cells...), cobra.ShellCompDirectiveNoFileComp
}
