package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PlanLocal runs plan natively, as the host would run the plugin: req is
// completed (protocol, Paths.Mount = dir, Files = the regular files under
// dir) and goes through the same JSON round trip, Run and Validate. It is
// for a plugin's own tests: `go test` in the plugin's module.
func PlanLocal(plan func(Request) (Plan, error), req Request, dir string) (Plan, error) {
	req.Protocol = ProtocolVersion
	req.Paths.Mount = dir
	req.Files = nil
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			req.Files = append(req.Files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return Plan{}, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return Plan{}, err
	}
	var out, errOut bytes.Buffer
	if Main(bytes.NewReader(in), &out, &errOut, plan) != 0 {
		first, _, _ := strings.Cut(errOut.String(), "\n")
		return Plan{}, errors.New(strings.TrimPrefix(first, "plugin: "))
	}
	var p Plan
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// ReadRequest reads a JSON request file, such as the request.json that
// `monogres plugin init` writes.
func ReadRequest(file string) (Request, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Request{}, err
	}
	var r Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, errors.New(file + ": " + err.Error())
	}
	return r, nil
}
