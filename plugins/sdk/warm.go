package sdk

import (
	"bytes"
	"encoding/json"
	"io"
)

// warm decodes a sample request and validates and encodes a plan using
// every field, as run does, so that encoding/json's per-type tables and
// other lazily built state exist before the first request: in a reactor
// module (see reactor_wasip1.go) they are part of the state the host
// snapshots after _initialize instead of being rebuilt in every call (the
// first encoding of a Plan alone cost 0.4 ms of a 2 ms call). It reports
// whether the sample went through, for the test.
func warm() bool {
	req, err := json.Marshal(warmRequest())
	if err != nil {
		return false
	}
	return run(bytes.NewReader(req), io.Discard, func(Request) (Plan, error) { return warmPlan(), nil }) == nil
}

func warmRequest() Request {
	return Request{
		Protocol: ProtocolVersion, Extension: Extension{"pg_demo", "1.0"}, Postgres: Postgres{"15.18", 15},
		OptionSet: "regular", Arch: "amd64", Options: []string{"openssl"}, Files: []string{"Makefile"},
		Params: map[string]string{"k": "v"}, SourceDateEpoch: 1,
		Paths: Paths{Source: "/build/src", Out: "/build/out", PGConfig: "/build/pg/bin/pg_config", Prefix: "/build/pg", Mount: "/src"},
	}
}

func warmPlan() Plan {
	env := map[string]string{"K": "v"}
	return Plan{
		Protocol:               ProtocolVersion,
		Files:                  []File{{Path: "demo.sql", Content: "SELECT 1;\n", Mode: 0o644}},
		Patches:                []Patch{{Path: "Makefile", Diff: "@@ -1 +1 @@\n-a\n+b\n"}},
		Commands:               []Command{{Argv: []string{"make", "install"}, Env: env, Dir: "src"}},
		Env:                    env,
		Package:                []string{"build/pg/lib/*.so"},
		ExtraPackages:          []string{"libfoo-dev"},
		SharedPreloadLibraries: []string{"demo"},
		Conf:                   []string{"demo.x = 1"},
		SmokeSQL:               []string{"SELECT 1"},
	}
}
