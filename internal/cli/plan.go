package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func runPlan(e *env, args []string) error {
	fl := flags("plan", e.stderr)
	asJSON := fl.Bool("json", false, "stream one JSON object per cell")
	count := fl.Bool("count", false, "print only the number of cells")
	patterns, err := parse(fl, args)
	if err != nil {
		return err
	}
	m, pgs, err := e.matrix()
	if err != nil {
		return err
	}
	_, l, _ := readLock(e.lockPath) // a missing or bad lock: no dropped roots known
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
		case *count:
			return nil
		case *asJSON:
			buf = append(c.AppendJSON(buf[:0]), '\n')
			_, err := w.Write(buf)
			return err
		}
		return writeCellLine(w, c)
	})
	if err != nil {
		return err
	}
	if *count {
		fmt.Fprintln(w, n)
	}
	if n == 0 && len(patterns) > 0 {
		w.Flush()
		return fmt.Errorf("no cell matches %q", patterns)
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

// matrix loads the manifest and resolves its Postgres versions, from the lock
// when there is one and from the index otherwise.
func (e *env) matrix() (*manifest.Manifest, []plan.Postgres, error) {
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return nil, nil, err
	}
	_, old, err := readLock(e.lockPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	pgs, err := lock.PostgresVersions(m, old, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := plan.CheckExtensions(m, pgs); err != nil {
		return nil, nil, err
	}
	return m, pgs, nil
}

// selectCells returns the cells matching patterns, or the manifest's default
// cells when there are none.
func (e *env) selectCells(patterns []string) (*manifest.Manifest, []plan.Cell, error) {
	m, pgs, err := e.matrix()
	if err != nil {
		return nil, nil, err
	}
	if len(patterns) == 0 {
		patterns = m.Default
		if len(patterns) == 0 {
			return nil, nil, fmt.Errorf("%s: no cells named and no default = [...] cells declared", m.File)
		}
	}
	var cells []plan.Cell
	err = plan.Each(m, pgs, func(c *plan.Cell) error {
		if plan.Match(patterns, c.Name) {
			cells = append(cells, *c)
		}
		return nil
	})
	if err == nil && len(cells) == 0 {
		err = fmt.Errorf("no cell matches %s (see `monogres plan`)", strings.Join(patterns, " "))
	}
	return m, cells, err
}
