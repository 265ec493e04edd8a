// Command clock reports everything a plugin could use to be nondeterministic:
// wall and monotonic time, random numbers, environment, arguments and the
// source tree, in a file of its plan.
package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	start := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "now=%s\n", time.Now().UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "unix=%d\n", time.Now().Unix())
	fmt.Fprintf(&b, "elapsed=%d\n", time.Since(start))
	fmt.Fprintf(&b, "mathrand=%d,%d\n", mrand.Int64(), mrand.IntN(1000000))
	buf := make([]byte, 16)
	crand.Read(buf)
	fmt.Fprintf(&b, "cryptorand=%s\n", hex.EncodeToString(buf))
	env := os.Environ()
	sort.Strings(env)
	fmt.Fprintf(&b, "environ=%s\n", strings.Join(env, " "))
	fmt.Fprintf(&b, "args=%s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "files=%s\n", strings.Join(req.Files, " "))
	wd, _ := os.Getwd()
	fmt.Fprintf(&b, "wd=%s\n", wd)
	mk, err := os.ReadFile("Makefile") // relative to the working directory, /src
	fmt.Fprintf(&b, "makefile=%q err=%v\n", mk, err)
	info, err := os.Stat("Makefile")
	if err == nil {
		fmt.Fprintf(&b, "makefile.mtime=%s\n", info.ModTime().UTC().Format(time.RFC3339))
	}
	return sdk.Plan{
		Files:    []sdk.File{{Path: "entropy.txt", Content: b.String()}},
		Commands: []sdk.Command{{Argv: []string{"true"}}},
	}, nil
}
