// Command fserr fails with the error of one file operation, chosen by
// params.op, returned as it is: the SDK must say why it failed.
package main

import (
	"fmt"
	"os"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	var err error
	switch op := req.Params["op"]; op {
	case "write":
		err = os.WriteFile("/src/generated.sql", []byte("x"), 0o644)
	case "outside":
		_, err = os.ReadFile("/etc/passwd")
	case "symlink":
		_, err = os.ReadFile("/src/out-link")
	case "panic":
		var m map[string]int
		m["x"]++
	default:
		return sdk.Plan{}, fmt.Errorf("unknown op %q", op)
	}
	return sdk.Plan{}, err
}
