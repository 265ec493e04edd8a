// Command initpanic is a reactor plugin whose package init panics: the
// host's template instance fails, and each call must report it.
package main

import (
	"fmt"
	"os"

	"github.com/monogres/monogres/plugins/sdk"
)

func init() {
	fmt.Println("init output")
	if len(os.Args) > 0 {
		panic("boom in init")
	}
}

func main() { sdk.Run(func(sdk.Request) (sdk.Plan, error) { return sdk.Plan{}, nil }) }
