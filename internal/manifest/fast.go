package manifest

import (
	"bytes"

	gotoml "github.com/pelletier/go-toml/v2"
)

// decodeFast decodes a manifest with go-toml/v2, several times faster than
// BurntSushi/toml on large manifests (`lock --check` reads the manifest on
// every CI run). It gives up (ok false) on any error or any value the typed
// fields would reject, and Parse then decodes with BurntSushi/toml, which
// reports the error with its position. go-toml/v2 sets string-kinded fields
// without calling UnmarshalText, so checkText re-applies those checks.
func decodeFast(data []byte) (m Manifest, ok bool) {
	dec := gotoml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, false
	}
	return m, m.checkText()
}

// checkText runs UnmarshalText on every string-kinded typed field.
func (m *Manifest) checkText() bool {
	ok := true
	check := func(u interface{ UnmarshalText([]byte) error }, s string) {
		if ok && u.UnmarshalText([]byte(s)) != nil {
			ok = false
		}
	}
	for _, s := range m.Postgres.OptionSets {
		check(new(OptionSet), string(s))
	}
	for _, a := range m.Postgres.Targets {
		check(new(Arch), string(a))
	}
	for _, r := range m.Postgres.Releases {
		check(new(SHA256), string(r.SHA256))
	}
	for _, t := range m.Targets {
		for _, o := range t.Unsupported {
			check(new(Option), string(o))
		}
	}
	for _, e := range m.Extensions {
		check(new(BuildKind), string(e.Build))
		for _, r := range e.Releases {
			check(new(SHA256), string(r.SHA256))
		}
	}
	for _, p := range m.Plugins {
		check(new(SHA256), string(p.SHA256))
	}
	return ok
}
