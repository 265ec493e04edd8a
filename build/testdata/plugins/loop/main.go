// Command loop is a hostile test plugin: it never answers.
package main

func main() {
	n := 0
	for {
		n++
	}
}
