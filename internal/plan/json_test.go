package plan

import (
	"encoding/json"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

// TestAppendJSON: the hand-written encoder writes what encoding/json writes,
// for every cell of a matrix and for awkward strings.
func TestAppendJSON(t *testing.T) {
	m := parse(t, matrixManifest)
	n := 0
	check := func(c *Cell) {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
		n++
	}
	err := Each(m, []Postgres{pg("15.18", "postgres/15"), pg("17.7", "postgres/17")}, func(c *Cell) error {
		check(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "plain", `q"b\s`, "<a&b>", "\x00\x01\x1f\x7f\n\r\t\b\f", "é ü 日本", "\u2028\u2029", "bad \xff utf8 \xc3", "\U0001F600"} {
		check(&Cell{Name: s, Input: s, Extension: s, Build: s, Dropped: []Dropped{{"llvm", s}}, Options: nil})
		check(&Cell{Name: s, Parent: s, ExtensionVersion: s, Options: []manifest.Option{manifest.Option(s), "zlib"}})
		check(&Cell{Name: s, ExtensionInput: s, Options: []manifest.Option{}})
	}
	if n < 30 {
		t.Fatalf("checked only %d cells", n)
	}
}
