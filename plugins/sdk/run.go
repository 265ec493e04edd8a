package sdk

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Run is a plugin's whole main function: it reads the Request from stdin,
// calls plan, and writes the Plan to stdout. On any error it writes the error
// to stderr and exits with status 1. On success it returns (main returning
// is exit status 0) rather than exiting: in a reactor module the host's
// call then simply returns instead of unwinding a proc_exit.
//
//	func main() { sdk.Run(plan) }
func Run(plan func(Request) (Plan, error)) {
	if code := Main(os.Stdin, os.Stdout, os.Stderr, plan); code != 0 {
		os.Exit(code)
	}
}

// Main is Run with explicit streams; it returns the exit status instead of
// exiting, for tests. A panic in plan becomes the one-line error
// "plugin: panic: ..." followed by its stack; a file error gets its cause
// (Explain).
func Main(stdin io.Reader, stdout, stderr io.Writer, plan func(Request) (Plan, error)) (code int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "plugin: panic: %v\n\n%s", v, debug.Stack())
			code = 2
		}
	}()
	if err := run(stdin, stdout, plan); err != nil {
		fmt.Fprintf(stderr, "plugin: %v\n", err)
		return 1
	}
	return 0
}

func run(stdin io.Reader, stdout io.Writer, plan func(Request) (Plan, error)) error {
	var req Request
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("reading the request from stdin: %v", err)
	}
	if req.Protocol != ProtocolVersion {
		return fmt.Errorf("the host speaks protocol version %d; this plugin was built for version %d", req.Protocol, ProtocolVersion)
	}
	p, err := plan(req)
	if err != nil {
		return Explain(err, req.Paths.Mount)
	}
	if p.Protocol == 0 {
		p.Protocol = ProtocolVersion
	}
	if err := p.Validate(); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("writing the plan: %v", err)
	}
	return w.Flush()
}
