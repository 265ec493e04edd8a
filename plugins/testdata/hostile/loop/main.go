// Command loop reads its request and then spins forever.
package main

import (
	"io"
	"os"
)

func main() {
	io.Copy(io.Discard, os.Stdin)
	n := 0
	for {
		n++
	}
}
