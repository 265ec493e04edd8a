package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHelps walks the whole command tree (commands other files
// register included): every command and subcommand answers -h and
// `help CMD` with exit 0, the same text, its usage line and examples, and
// completes its own name.
func TestEveryCommandHelps(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	var walk func(c *cobra.Command, path []string)
	n := 0
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" {
				continue
			}
			p := append(append([]string{}, path...), sub.Name())
			name := strings.Join(p, " ")
			n++
			code, out, errs := run(append(p, "-h")...)
			if code != 0 || errs != "" {
				t.Errorf("monogres %s -h: exit %d, stderr %q", name, code, errs)
			}
			if !strings.Contains(out, "Usage:\n  monogres "+name) {
				t.Errorf("monogres %s -h has no usage line:\n%s", name, out)
			}
			if !strings.Contains(out, "Examples:\n  monogres") && sub.Name() != "completion" && c.Name() != "completion" {
				t.Errorf("monogres %s -h has no examples (set Example):\n%s", name, out)
			}
			if code, hout, _ := run(append([]string{"help"}, p...)...); code != 0 || hout != out {
				t.Errorf("monogres help %s: exit %d, differs from -h", name, code)
			}
			if code, cout, _ := run(append([]string{"__complete"}, append(path, sub.Name()[:2])...)...); code != 0 || !strings.Contains(cout, sub.Name()) {
				t.Errorf("completion of %q does not offer %s:\n%s", sub.Name()[:2], name, cout)
			}
			walk(sub, p)
		}
	}
	walk(newRoot(&env{ctx: context.Background(), manifestPath: defaultManifest}), nil)
	if n < 25 {
		t.Errorf("walked %d commands; the tree has more", n)
	}
}
