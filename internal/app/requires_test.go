package app

import (
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/lock"
)

// TestRequires: an extension cell requires the cells of the extensions
// its entry names, against the same parent, with their own requirements
// first; an extension with two versions there cannot be required.
func TestRequires(t *testing.T) {
	ext := func(name, requires string) string {
		s := "\n[[extension]]\nname = \"" + name + "\"\nversions = [\"1\"]\nbuild = \"make\"\n"
		if requires != "" {
			s += "requires = [\"" + requires + "\"]\n"
		}
		return s + "[[extension.source]]\nname = \"" + name + "\"\nurls = [\"https://example.invalid/" + name + "-{version}.tar.gz\"]\n"
	}
	var inputs []lock.Input
	for _, n := range []string{"a", "b", "c"} {
		inputs = append(inputs, lock.Input{Name: "extension/" + n + "/1", Kind: "extension", Version: "1", SHA256: strings.Repeat("a", 64)})
	}
	a, _, _ := stateProjectWith(t, ext("c", "b")+ext("b", "a")+ext("a", ""), inputs)
	m, cells, req, err := a.selectCells([]string{"c~*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 {
		t.Fatalf("cells %v", cells)
	}
	rcs, err := req.requires(m, cells[0])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rcs {
		names = append(names, c.Name)
	}
	const p = "~1~postgres~15.18~barebones~amd64"
	if got := strings.Join(names, " "); got != "a"+p+" b"+p {
		t.Errorf("c requires %q, want a then b", got)
	}
	_, l, err := ReadLock(a.LockPath)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := a.cell(m, cells[0], l, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(bc.Extension.Requires, " "); got != "a"+p+" b"+p {
		t.Errorf("engine cell requires %q", got)
	}
	if got := build.RootCell(bc).Layers(); strings.Join(got, " ") != "amd64 amd64~ext:a amd64~ext:b amd64~ext:c" {
		t.Errorf("root layers of c: %v, want the required extensions' layers before its own", got)
	}

	two := strings.Replace(ext("c", "b")+ext("b", "a")+ext("a", ""), "name = \"a\"\nversions = [\"1\"]", "name = \"a\"\nversions = [\"1\", \"2\"]", 1)
	a, _, _ = stateProjectWith(t, two, inputs)
	m, cells, req, err = a.selectCells([]string{"c~*"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.requires(m, cells[0]); err == nil || !strings.Contains(err.Error(), "requires a, which has 2 versions against postgres~15.18~barebones~amd64") {
		t.Errorf("two versions of a: %v", err)
	}
}
