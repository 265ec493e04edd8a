package app

import (
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/lock"
)

func TestExtensionCell(t *testing.T) {
	v, err := manifest.ParseVersion("15.18")
	if err != nil {
		t.Fatal(err)
	}
	pg := lock.Input{Name: "postgres/15.18", SHA256: "p"}
	l := &lock.Lock{Inputs: []lock.Input{
		{Name: "extension/demo/1.2", SHA256: "s", StripPrefix: "demo-1.2"},
		{Name: "plugin/fix", SHA256: "w"},
		pg,
	}}
	c := plan.Cell{
		Name: "demo~1.2~postgres~15.18~regular~arm64", Postgres: v, Input: pg.Name, OptionSet: "regular", Arch: "arm64",
		Options: []manifest.Option{"icu", "zstd"}, Extension: "demo", ExtensionVersion: "1.2",
		ExtensionInput: "extension/demo/1.2", Build: "plugin:fix", Parent: "postgres~15.18~regular~arm64",
	}
	a := &App{LockPath: "monogres.lock"}
	ec, err := a.cell(nil, c, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := ec.Extension
	if ec.Source.SHA256 != "s" || ec.Plugin.SHA256 != "w" || ec.Recipe != "plugin:fix" || x.Name != "demo" || x.Version != "1.2" || x.Parent != c.Parent ||
		ec.Arch != "arm64" || ec.Major != 15 || ec.OptionSet != "regular" {
		t.Errorf("extension cell %+v %+v", ec, x)
	}
	p, err := a.cell(nil, parentOf(nil, c), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != c.Parent || p.Extension != nil || p.Arch != "arm64" || p.Major != 15 || p.PostgresVersion != "15.18" || p.OptionSet != "regular" ||
		strings.Join(p.Options, ",") != "icu,zstd" || p.Source.SHA256 != "p" {
		t.Errorf("parent cell %+v", p)
	}

	c.Build = "plugin:missing"
	if _, err := a.cell(nil, c, l, nil); err == nil || !strings.Contains(err.Error(), "input plugin/missing is not in monogres.lock") {
		t.Errorf("missing plugin: err %v", err)
	}
	c.Build, c.ExtensionInput = "pgxs", "extension/demo/9"
	if _, err := a.cell(nil, c, l, nil); err == nil || !strings.Contains(err.Error(), "input extension/demo/9 is not in monogres.lock") {
		t.Errorf("missing source: err %v", err)
	}
}

// Each build kind gets its own args from the manifest: make_args for PGXS and make
// (also when build is unset), configure_args and cmake_args.
func TestExtensionCellArgs(t *testing.T) {
	v, err := manifest.ParseVersion("15.18")
	if err != nil {
		t.Fatal(err)
	}
	pg := lock.Input{Name: "postgres/15.18", SHA256: "p"}
	l := &lock.Lock{Inputs: []lock.Input{{Name: "extension/demo/1.2", SHA256: "s"}, pg}}
	m := &manifest.Manifest{Extensions: []manifest.Extension{{Name: "demo", ExtensionSettings: manifest.ExtensionSettings{
		MakeArgs: []string{"OPTFLAGS="}, ConfigureArgs: []string{"--without-gettext"}, CMakeArgs: []string{"-DX=1"},
	}}}}
	a := &App{LockPath: "monogres.lock"}
	for build, want := range map[string]string{"pgxs": "OPTFLAGS=", "": "OPTFLAGS=", "configure": "--without-gettext", "cmake": "-DX=1", "make": "OPTFLAGS="} {
		c := plan.Cell{
			Name: "demo~1.2~postgres~15.18~regular~amd64", Postgres: v, Input: pg.Name, OptionSet: "regular", Arch: "amd64",
			Extension: "demo", ExtensionVersion: "1.2", ExtensionInput: "extension/demo/1.2", Build: build, Parent: "postgres~15.18~regular~amd64",
		}
		ec, err := a.cell(m, c, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(ec.Extension.Settings.Args, " "); got != want {
			t.Errorf("build %q: args %q, want %q", build, got, want)
		}
	}
}
