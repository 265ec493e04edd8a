package cli

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
	ec, err := extensionCell(c, pg, l, "monogres.lock")
	if err != nil {
		t.Fatal(err)
	}
	if ec.Source.SHA256 != "s" || ec.Plugin.SHA256 != "w" || ec.Recipe != "plugin:fix" || ec.Extension != "demo" || ec.Version != "1.2" {
		t.Errorf("extension cell %+v", ec)
	}
	p := ec.Parent
	if p.Name != c.Parent || p.Arch != "arm64" || p.Major != 15 || p.PostgresVersion != "15.18" || p.OptionSet != "regular" ||
		strings.Join(p.Options, ",") != "icu,zstd" || p.Source.SHA256 != "p" {
		t.Errorf("parent cell %+v", p)
	}

	c.Build = "plugin:missing"
	if _, err := extensionCell(c, pg, l, "monogres.lock"); err == nil || !strings.Contains(err.Error(), "input plugin/missing is not in monogres.lock") {
		t.Errorf("missing plugin: err %v", err)
	}
	c.Build, c.ExtensionInput = "pgxs", "extension/demo/9"
	if _, err := extensionCell(c, pg, l, "monogres.lock"); err == nil || !strings.Contains(err.Error(), "input extension/demo/9 is not in monogres.lock") {
		t.Errorf("missing source: err %v", err)
	}
}
