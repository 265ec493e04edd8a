// Package lock owns monogres.lock: the list of every input a distribution
// needs, each pinned by sha256, in a deterministic, diff-friendly TOML file.
//
// Invariants: the same manifest and the same inputs encode to the same bytes;
// inputs are sorted by Name and names are unique; Encode(Decode(b)) == b for
// every lock this package wrote.
package lock

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/termsafe"
)

// FormatVersion is the version of the lock file format this package reads and writes.
const FormatVersion = 1

// Input kinds.
const (
	KindPostgres  = "postgres"  // a Postgres source archive
	KindExtension = "extension" // an extension source archive
	KindPatch     = "patch"     // a patch file
	KindDeb       = "deb"       // a Debian binary package of a toolchain
	KindIndex     = "index"     // a Debian archive index file (Release, Packages)
	KindPlugin    = "plugin"    // a WebAssembly plugin module
)

// Input is one pinned input. Its identity is SHA256 (and Size when known);
// URLs and Apt are only hints for where the bytes may be found.
type Input struct {
	// Name is unique in the lock: "postgres/15.18", "extension/pg_similarity/1.0",
	// "deb/amd64/gcc-12", "plugin/numeral-gen".
	Name    string `toml:"name"`
	Kind    string `toml:"kind"`
	Version string `toml:"version,omitempty"`
	// Arch is set for Debian packages and indexes.
	Arch string `toml:"arch,omitempty"`
	// URLs are tried in order (after mirror rewrites).
	URLs   []string `toml:"urls"`
	SHA256 string   `toml:"sha256"`
	// Size in bytes; 0 means unknown (the index did not record it).
	Size int64 `toml:"size,omitempty"`
	// StripPrefix is the top directory removed when the archive is extracted.
	StripPrefix string `toml:"strip_prefix,omitempty"`
	// SourceDateEpoch is the newest mtime in the archive, used as
	// SOURCE_DATE_EPOCH for builds from it; 0 means derive it at build time.
	SourceDateEpoch int64 `toml:"source_date_epoch,omitempty"`
	// Apt names the Debian artifact that holds the same bytes, for the apt
	// fallback: "source:postgresql-15=15.18-0+deb12u1:postgresql-15_15.18.orig.tar.bz2"
	// or "binary:gcc-12:amd64=12.2.0-14+deb12u1".
	Apt string `toml:"apt,omitempty"`
	// Roots names the toolchain roots a Debian package belongs to, by the
	// target arch they serve ("amd64", "arm64").
	Roots []string `toml:"roots,omitempty"`
}

// Lock is the decoded monogres.lock.
type Lock struct {
	Version int `toml:"version"`
	// Manifest is "sha256:<hex>" of the manifest bytes the lock was made from.
	Manifest string `toml:"manifest"`
	// Toolchain is "sha256:<hex>" of the manifest's toolchain request; the
	// Debian packages are re-resolved only when it changes or on --update toolchain.
	Toolchain string  `toml:"toolchain,omitempty"`
	Inputs    []Input `toml:"input"`
	// Roots are the toolchain layers (package sets) the lock resolved,
	// sorted by name; a deb input's Roots name the layers it belongs to.
	Roots []Root `toml:"root"`
}

// Root is one toolchain layer: a target's base, an option's or an
// extension's packages for a target ("amd64", "amd64~opt:icu",
// "arm64~ext:pgmemcache").
type Root struct {
	Name string `toml:"name"`
	// Request is "sha256:<hex>" of what decides the layer's closure; the
	// layer is resolved again only when it changes.
	Request string `toml:"request"`
	// Dropped is the resolver's reason when the layer could not be
	// resolved; the cells needing it are dropped for its target.
	Dropped string `toml:"dropped,omitempty"`
}

// Find returns the input named name; a nil lock has no inputs.
func (l *Lock) Find(name string) (Input, bool) {
	if l == nil {
		return Input{}, false
	}
	i, ok := slices.BinarySearchFunc(l.Inputs, name, func(in Input, n string) int { return strings.Compare(in.Name, n) })
	if !ok {
		return Input{}, false
	}
	return l.Inputs[i], true
}

// Sort orders inputs by name, the order Encode requires.
func (l *Lock) Sort() {
	byName := func(a, b Input) int { return strings.Compare(a.Name, b.Name) }
	if slices.IsSortedFunc(l.Inputs, byName) {
		return // the usual case: a lock this package wrote
	}
	slices.SortFunc(l.Inputs, byName)
}

// ValidSHA256 reports whether s is 64 lowercase hex digits (it is
// store.ValidSHA256, the one implementation).
func ValidSHA256(s string) bool { return store.ValidSHA256(s) }

const header = "# monogres.lock: every input of this distribution, pinned by sha256.\n" +
	"# Written by `monogres lock`; check with `monogres lock --check`. Do not edit by hand.\n"

// Encode writes the lock in its canonical form: a header, the format version
// and manifest digest, then one [[input]] block per input sorted by name.
func Encode(l *Lock) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "version = %d\n", l.Version)
	fmt.Fprintf(&b, "manifest = %s\n", strconv.Quote(l.Manifest))
	if l.Toolchain != "" {
		fmt.Fprintf(&b, "toolchain = %s\n", strconv.Quote(l.Toolchain))
	}
	for i, in := range l.Inputs {
		if i > 0 && l.Inputs[i-1].Name >= in.Name {
			return nil, fmt.Errorf("lock: inputs not sorted or duplicated at %q", in.Name)
		}
		b.WriteString("\n[[input]]\n")
		kv := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "%s = %s\n", k, tomlString(v))
			}
		}
		kv("name", in.Name)
		kv("kind", in.Kind)
		kv("version", in.Version)
		kv("arch", in.Arch)
		b.WriteString("urls = [")
		for j, u := range in.URLs {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  " + tomlString(u))
		}
		if len(in.URLs) > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("]\n")
		kv("sha256", in.SHA256)
		if in.Size != 0 {
			fmt.Fprintf(&b, "size = %d\n", in.Size)
		}
		kv("strip_prefix", in.StripPrefix)
		if in.SourceDateEpoch != 0 {
			fmt.Fprintf(&b, "source_date_epoch = %d\n", in.SourceDateEpoch)
		}
		kv("apt", in.Apt)
		if len(in.Roots) > 0 {
			b.WriteString("roots = [")
			for j, r := range in.Roots {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(tomlString(r))
			}
			b.WriteString("]\n")
		}
	}
	for i, r := range l.Roots {
		if i > 0 && l.Roots[i-1].Name >= r.Name {
			return nil, fmt.Errorf("lock: roots not sorted or duplicated at %q", r.Name)
		}
		fmt.Fprintf(&b, "\n[[root]]\nname = %s\nrequest = %s\n", tomlString(r.Name), tomlString(r.Request))
		if r.Dropped != "" {
			fmt.Fprintf(&b, "dropped = %s\n", tomlString(r.Dropped))
		}
	}
	return b.Bytes(), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Decode parses a lock file in the form Encode writes; errors are
// "FILE:LINE: message". file is used in error messages.
func Decode(file string, data []byte) (*Lock, error) {
	l, line, err := decodeCanonical(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %v (monogres.lock is written by `monogres lock`; after a bad merge, take one side and run `monogres lock` again)", file, line, err)
	}
	return l, validate(file, l)
}

// validate checks a decoded lock and sorts its inputs.
func validate(file string, l *Lock) error {
	switch {
	case l.Version > FormatVersion:
		return fmt.Errorf("%s: lock format version %d is newer than this monogres reads (version %d); upgrade monogres", file, l.Version, FormatVersion)
	case l.Version != FormatVersion:
		return fmt.Errorf("%s: lock format version %d is not supported (this monogres reads version %d); delete the file and run `monogres lock` to pin every input again", file, l.Version, FormatVersion)
	}
	seen := make(map[string]bool, len(l.Inputs))
	for i, in := range l.Inputs {
		where := func() string { return fmt.Sprintf("%s: input[%d] %q", file, i, in.Name) }
		switch {
		case in.Name == "":
			return fmt.Errorf("%s: input[%d]: missing name", file, i)
		case seen[in.Name]:
			return fmt.Errorf("%s: duplicate input", where())
		case !store.ValidSHA256(in.SHA256):
			return fmt.Errorf("%s: sha256 %q is not 64 lowercase hex digits", where(), in.SHA256)
		case in.Size < 0:
			return fmt.Errorf("%s: negative size", where())
		}
		if err := checkText(in); err != nil {
			return fmt.Errorf("%s: input[%d]: %w", file, i, err)
		}
		seen[in.Name] = true
	}
	roots := make(map[string]bool, len(l.Roots))
	for i, r := range l.Roots {
		switch {
		case r.Name == "":
			return fmt.Errorf("%s: root[%d]: missing name", file, i)
		case roots[r.Name]:
			return fmt.Errorf("%s: root[%d] %q: duplicate root", file, i, r.Name)
		}
		roots[r.Name] = true
	}
	slices.SortFunc(l.Roots, func(a, b Root) int { return strings.Compare(a.Name, b.Name) })
	l.Sort()
	return nil
}

// checkText refuses terminal control characters in the strings of in:
// they are printed by lock diffs, checks and the TUI.
func checkText(in Input) error {
	fields := []struct{ name, v string }{{"name", in.Name}, {"kind", in.Kind}, {"version", in.Version}, {"arch", in.Arch}, {"strip_prefix", in.StripPrefix}, {"apt", in.Apt}}
	for _, f := range fields {
		if !termsafe.Clean(f.v) {
			return fmt.Errorf("%s: %v", f.name, termsafe.Check(f.v))
		}
	}
	for j, u := range in.URLs {
		if !termsafe.Clean(u) {
			return fmt.Errorf("urls[%d]: %v", j, termsafe.Check(u))
		}
	}
	for j, r := range in.Roots {
		if !termsafe.Clean(r) {
			return fmt.Errorf("roots[%d]: %v", j, termsafe.Check(r))
		}
	}
	return nil
}
