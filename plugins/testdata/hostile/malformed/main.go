// Command malformed answers a broken plan chosen by params.mode.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

var answers = map[string]string{
	"garbage":   "this is not a plan\n",
	"nothing":   "",
	"dotdot":    `{"protocol":1,"files":[{"path":"../../etc/cron.d/evil","content":"x"}],"commands":[{"argv":["make"]}]}`,
	"absolute":  `{"protocol":1,"files":[{"path":"/etc/passwd","content":"x"}],"commands":[{"argv":["make"]}]}`,
	"emptyargv": `{"protocol":1,"commands":[{"argv":[]}]}`,
	"unknown":   `{"protocol":1,"commands":[{"argv":["make"]}],"run_on_host":["rm","-rf","/"]}`,
	"nocommand": `{"protocol":1}`,
	"badpatch":  `{"protocol":1,"patches":[{"path":"Makefile","diff":"not a diff"}],"commands":[{"argv":["make"]}]}`,
	"badglob":   `{"protocol":1,"commands":[{"argv":["make"]}],"package":["lib/[x"]}`,
	"twovalues": `{"protocol":1,"commands":[{"argv":["make"]}]} {"protocol":1}`,
	"escpath":   "{\"protocol\":1,\"files\":[{\"path\":\"Makefile\\u001b]0;pwned\\u0007\",\"content\":\"x\"}],\"commands\":[{\"argv\":[\"make\"]}]}",
	"escglob":   "{\"protocol\":1,\"commands\":[{\"argv\":[\"make\"]}],\"package\":[\"lib/\\u009b2J\"]}",
}

func main() {
	var req struct {
		Params map[string]string `json:"params"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mode := req.Params["mode"]
	if mode == "escstderr" {
		// Retitle the window, clear the screen, and a CSI through C1.
		os.Stderr.WriteString("malformed: \x1b]0;pwned\x07\x1b[2J\u009b31mgiving up\n")
		os.Exit(3)
	}
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "malformed: giving up on purpose")
		os.Exit(3)
	}
	answer, ok := answers[mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "malformed: unknown mode %q\n", mode)
		os.Exit(1)
	}
	os.Stdout.WriteString(answer)
}
