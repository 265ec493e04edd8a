package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestMainExitStatus(t *testing.T) {
	plan := func(req Request) (Plan, error) {
		if req.Params["fail"] != "" {
			return Plan{}, errors.New(req.Params["fail"])
		}
		return Plan{Commands: []Command{{Argv: []string{"make", req.Extension.Name}}}}, nil
	}
	for _, tc := range []struct {
		name, in, out, errOut string
		code                  int
	}{
		{name: "ok", in: `{"protocol":1,"extension":{"name":"x"}}`, out: `{"protocol":1,"commands":[{"argv":["make","x"]}]}` + "\n"},
		{name: "plugin error", in: `{"protocol":1,"params":{"fail":"no configure script"}}`, errOut: "plugin: no configure script\n", code: 1},
		{name: "wrong protocol", in: `{"protocol":7}`, errOut: "plugin: the host speaks protocol version 7; this plugin was built for version 1\n", code: 1},
		{name: "bad json", in: `{`, errOut: "plugin: reading the request from stdin: unexpected EOF\n", code: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(strings.NewReader(tc.in), &out, &errOut, plan)
			if code != tc.code || out.String() != tc.out || errOut.String() != tc.errOut {
				t.Errorf("got code %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tc.code, tc.out, tc.errOut)
			}
		})
	}
}

func TestMainRejectsInvalidPlan(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(strings.NewReader(`{"protocol":1}`), &out, &errOut, func(Request) (Plan, error) {
		return Plan{Files: []File{{Path: "../x"}}, Commands: []Command{{Argv: []string{"make"}}}}, nil
	})
	if code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), `files[0].path "../x": must not contain ".."`) {
		t.Errorf("code %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestValidate(t *testing.T) {
	ok := Plan{Protocol: 1, Commands: []Command{{Argv: []string{"make"}}}}
	for _, tc := range []struct {
		name string
		edit func(p *Plan)
		err  string // "" = valid
	}{
		{"minimal", func(p *Plan) {}, ""},
		{"full", func(p *Plan) {
			p.Files = []File{{Path: "sub/gen.h", Content: "x", Mode: 0o755}}
			p.Patches = []Patch{{Path: "Makefile", Diff: "@@ -1 +1 @@\n-a\n+b\n"}}
			p.Commands = append(p.Commands, Command{Argv: []string{"make", "install"}, Env: map[string]string{"CC": "gcc"}, Dir: "src"})
			p.Package = []string{"usr/lib/postgresql/15/lib/x*.so", "usr/share"}
			p.ExtraPackages = []string{"libgeos-dev", "libgeos-dev:arm64"}
		}, ""},
		{"protocol", func(p *Plan) { p.Protocol = 0 }, "protocol: plan speaks protocol version 0; this monogres speaks version 1"},
		{"dot", func(p *Plan) { p.Files = []File{{Path: "./x"}} }, `files[0].path "./x": must be clean`},
		{"trailing slash", func(p *Plan) { p.Files = []File{{Path: "x/"}} }, `files[0].path "x/": must be clean`},
		{"empty path", func(p *Plan) { p.Files = []File{{Path: ""}} }, `files[0].path "": is empty`},
		{"backslash", func(p *Plan) { p.Files = []File{{Path: `a\..\b`}} }, "backslash"},
		{"twice", func(p *Plan) { p.Files = []File{{Path: "a"}, {Path: "a"}} }, `files[1].path "a": is written twice`},
		{"mode", func(p *Plan) { p.Files = []File{{Path: "a", Mode: 0o4755}} }, "files[0].mode: 04755 has bits beyond"},
		{"utf8", func(p *Plan) { p.Files = []File{{Path: "a", Content: "\xff"}} }, "files[0].content: is not valid UTF-8"},
		{"patch path", func(p *Plan) { p.Patches = []Patch{{Path: "/etc/x", Diff: "@@ -1 +1 @@\n-a\n+b\n"}} }, `patches[0].path "/etc/x": must be relative`},
		{"empty diff", func(p *Plan) { p.Patches = []Patch{{Path: "a"}} }, "patches[0].diff: diff is empty"},
		{"argv0", func(p *Plan) { p.Commands = []Command{{Argv: []string{""}}} }, "commands[0].argv: is empty"},
		{"nul", func(p *Plan) { p.Commands = []Command{{Argv: []string{"a", "b\x00"}}} }, "commands[0].argv[1]: contains a NUL byte"},
		{"env", func(p *Plan) { p.Commands = []Command{{Argv: []string{"a"}, Env: map[string]string{"A=B": "c"}}} }, `commands[0].env: name "A=B"`},
		{"dir", func(p *Plan) { p.Commands = []Command{{Argv: []string{"a"}, Dir: "../.."}} }, `commands[0].dir "../..": must not contain ".."`},
		{"package abs", func(p *Plan) { p.Package = []string{"/usr/lib"} }, `package[0] "/usr/lib": must be relative`},
		{"deb name", func(p *Plan) { p.ExtraPackages = []string{"Bad Name"} }, `extra_packages[0]: "Bad Name" is not a Debian package name`},
		{"deb twice", func(p *Plan) { p.ExtraPackages = []string{"gcc", "gcc"} }, `extra_packages[1]: "gcc" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Plan
			b, _ := json.Marshal(ok)
			json.Unmarshal(b, &p)
			tc.edit(&p)
			err := p.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want error containing %q", err, tc.err)
			}
		})
	}
}

// TestPlanSettingsValidate: a plan's server settings are checked like the
// manifest's.
func TestPlanSettingsValidate(t *testing.T) {
	ok := Plan{Protocol: ProtocolVersion, Commands: []Command{{Argv: []string{"make"}}},
		SharedPreloadLibraries: []string{"pglogical"}, Conf: []string{"wal_level = logical"}, SmokeSQL: []string{"SELECT 1"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.SharedPreloadLibraries, bad.Conf, bad.SmokeSQL = []string{"a,b"}, []string{"x\ny = 1"}, []string{" "}
	err := bad.Validate()
	for _, want := range []string{`shared_preload_libraries[0] "a,b"`, `conf[0] "x\ny = 1"`, "smoke_sql[0]: is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestWarmSampleIsValid: the sample warm runs at init in a wasm plugin
// must go all the way through decoding, validation and encoding, or the
// tables it is there to build are built in every call instead.
func TestWarmSampleIsValid(t *testing.T) {
	if err := warmPlan().Validate(); err != nil {
		t.Fatal(err)
	}
	if !warm() {
		t.Fatal("warm failed")
	}
}
