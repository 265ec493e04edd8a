// Command alloc allocates (and touches) memory until something stops it.
package main

import "os"

func main() {
	var keep [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		keep = append(keep, b)
		if len(keep) < 0 {
			os.Exit(0)
		}
	}
}
