// Command state is a reactor plugin (it uses the SDK, so the host runs its
// package init once and gives every call a fresh copy of the state init
// left) that looks for what an earlier call left behind: params.mode
// "write" stores params.secret in package variables and fills 32 MiB of
// fresh heap with a marker byte; "read" fails naming anything it finds
// that is not what package init left: a stored secret, a changed counter,
// a non-zero byte of fresh heap. Every call checks that init's own state
// (set once, in the template) is there.
package main

import (
	"fmt"
	"os"

	"github.com/monogres/monogres/plugins/sdk"
)

var (
	fromInit string
	calls    int
	secret   string
	kept     [][]byte
)

func init() { fromInit = "set by init" }

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	calls++
	if fromInit != "set by init" {
		return sdk.Plan{}, fmt.Errorf("package init's state is missing: %q", fromInit)
	}
	if calls != 1 {
		return sdk.Plan{}, fmt.Errorf("calls = %d: an earlier call's counter survived", calls)
	}
	if secret != "" || kept != nil {
		return sdk.Plan{}, fmt.Errorf("an earlier call's secret survived: %q", secret)
	}
	b := make([]byte, 32<<20)
	switch req.Params["mode"] {
	case "write":
		secret = req.Params["secret"]
		for i := range b {
			b[i] = 0xAB
		}
		kept = append(kept, b)
	case "read":
		for i, c := range b {
			if c != 0 {
				return sdk.Plan{}, fmt.Errorf("byte %d of fresh heap is %#x, left by an earlier call", i, c)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "state: unknown mode")
		os.Exit(3)
	}
	return sdk.Plan{Commands: []sdk.Command{{Argv: []string{"make"}}}}, nil
}
