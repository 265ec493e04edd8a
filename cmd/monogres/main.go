// Command monogres makes Postgres distributions reproducible: it locks every
// input by sha256, fetches them into a content-addressed store, builds each
// cell hermetically and packages it byte for byte the same every time.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/monogres/monogres/internal/cli"
)

func main() {
	cli.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
