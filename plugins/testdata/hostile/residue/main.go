// Command residue looks for what an earlier call left in linear memory:
// params.mode "write" fills 32 MiB of fresh heap with a marker byte;
// "read" takes 32 MiB of fresh heap (the Go runtime does not zero memory
// it has just grown, trusting it to be zero) and exits 1 naming the first
// non-zero byte it finds.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var req struct {
		Params map[string]string `json:"params"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	b := make([]byte, 32<<20)
	switch req.Params["mode"] {
	case "write":
		for i := range b {
			b[i] = 0xAB
		}
	case "read":
		for i, c := range b {
			if c != 0 {
				fmt.Fprintf(os.Stderr, "residue: byte %d of fresh heap is %#x, left by an earlier call\n", i, c)
				os.Exit(1)
			}
		}
	}
	fmt.Println(`{"protocol":1,"commands":[{"argv":["make"]}]}`)
}
