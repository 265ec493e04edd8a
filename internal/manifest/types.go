package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// Arch is a target architecture, named as Debian names it.
type Arch string

// Arches lists the supported target architectures.
var Arches = []Arch{"amd64", "arm64"}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Arch) UnmarshalText(b []byte) error {
	if !slices.Contains(Arches, Arch(b)) {
		return fmt.Errorf("unknown arch %q (known: amd64, arm64)", b)
	}
	*a = Arch(b)
	return nil
}

// SHA256 is a lowercase hex sha256 digest.
type SHA256 string

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SHA256) UnmarshalText(b []byte) error {
	if !isSHA256(b) {
		return fmt.Errorf("bad sha256 %q: want 64 lowercase hex digits", b)
	}
	*s = SHA256(b)
	return nil
}

// OptionSet names one of the five option sets.
type OptionSet string

// OptionSets lists the option sets in order, from least to most.
var OptionSets = []OptionSet{"barebones", "minimal", "regular", "full", "debug"}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *OptionSet) UnmarshalText(b []byte) error {
	if !slices.Contains(OptionSets, OptionSet(b)) {
		return fmt.Errorf("unknown option set %q (known: barebones, minimal, regular, full, debug)", b)
	}
	*o = OptionSet(b)
	return nil
}

// Option is one optional Postgres build feature.
type Option string

// Options is the option vocabulary, in a stable order.
var Options = []Option{
	"nls", "readline", "openssl", "uuid", "zlib",
	"icu", "llvm", "lz4", "plpython", "systemd", "zstd",
	"gssapi", "ldap", "libxml", "libxslt", "pam", "plperl", "pltcl", "selinux",
	"liburing", "libnuma", "libcurl",
	"debug", "cassert", "injection_points",
	"atomics", "spinlocks",
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Option) UnmarshalText(b []byte) error {
	if !slices.Contains(Options, Option(b)) {
		return fmt.Errorf("unknown option %q", b)
	}
	*o = Option(b)
	return nil
}

// SetOptions gives the options each option set asks for, before version
// constraints and target support are applied.
func SetOptions(set OptionSet) []Option {
	minimal := []Option{"nls", "readline", "openssl", "uuid", "zlib"}
	regular := append(slices.Clone(minimal), "icu", "llvm", "lz4", "plpython", "systemd", "zstd")
	switch set {
	case "minimal":
		return minimal
	case "regular":
		return regular
	case "full":
		return append(regular, "gssapi", "ldap", "libxml", "libxslt", "pam", "plperl", "pltcl", "selinux", "liburing", "libnuma", "libcurl")
	case "debug":
		return append(regular, "debug", "cassert", "injection_points")
	}
	return nil
}

// BuildKind is how an extension is built: "contrib", "pgxs", "configure"
// (./configure, then PGXS), "cmake", "make" (a plain Makefile taking
// PG_CONFIG), "meson" or "plugin:NAME".
type BuildKind string

// Plugin returns the plugin name of a "plugin:NAME" build kind.
func (k BuildKind) Plugin() (string, bool) {
	return strings.CutPrefix(string(k), "plugin:")
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *BuildKind) UnmarshalText(b []byte) error {
	s := string(b)
	if name, ok := strings.CutPrefix(s, "plugin:"); ok && name != "" {
		*k = BuildKind(s)
		return nil
	}
	switch s {
	case "contrib", "pgxs", "configure", "cmake", "make", "meson":
		*k = BuildKind(s)
		return nil
	}
	return fmt.Errorf("unknown build kind %q (known: contrib, pgxs, configure, cmake, make, meson, plugin:NAME)", s)
}

// isSHA256 reports whether b is 64 lowercase hex digits.
func isSHA256(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
