package toolchains

import (
	"slices"
	"strings"
)

// The default package lists, for the manifest's toolchain section. Names are
// bookworm's. Each list is explicit: Resolve adds nothing on its own, so a
// root holds exactly the closure of these names.
var (
	// BasePackages is what a working root needs besides the compilers: a
	// shell for /bin/sh, the POSIX utilities configure scripts and
	// Makefiles call, and the dynamic linker's tools.
	BasePackages = []string{
		"base-files", "bash", "bzip2", "coreutils", "dash", "diffutils",
		"findutils", "grep", "gzip", "libc-bin", "mawk", "patch", "sed",
		"tar", "xz-utils",
	}
	// BuildTools are the native tools every Postgres build uses.
	BuildTools = []string{
		"bison", "flex", "g++", "gcc", "gettext", "libc6-dev", "make",
		"meson", "ninja-build", "perl", "pkg-config", "python3",
	}
	// CrossArm64Packages make the arm64 cross base: the cross compiler,
	// the arm64 C library (Multi-Arch: same, co-installed with the native
	// one), and qemu to run arm64 programs in tests. The options' arm64
	// libraries come from their option layers (OptionPackages).
	CrossArm64Packages = []string{
		"g++-aarch64-linux-gnu", "gcc-aarch64-linux-gnu",
		"libc6-dev-arm64-cross", "qemu-user-static", "libc6-dev:arm64",
	}
)

// optionPackages are the bookworm packages each Postgres option builds
// against, for the native arch (LLVM 14 and clang 14 for JIT).
var optionPackages = map[string][]string{
	"readline": {"libreadline-dev"},
	"openssl":  {"libssl-dev"},
	"uuid":     {"uuid-dev"},
	"zlib":     {"zlib1g-dev"},
	"icu":      {"libicu-dev"},
	"llvm":     {"clang-14", "llvm-14-dev"},
	"lz4":      {"liblz4-dev"},
	"plpython": {"python3-dev"},
	"systemd":  {"libsystemd-dev"},
	"zstd":     {"libzstd-dev"},
	"gssapi":   {"libkrb5-dev"},
	"ldap":     {"libldap2-dev"},
	"libxml":   {"libxml2-dev"},
	"libxslt":  {"libxslt1-dev"},
	"pam":      {"libpam0g-dev"},
	"plperl":   {"libperl-dev"},
	"pltcl":    {"tcl-dev"},
	"selinux":  {"libselinux1-dev"},
	"liburing": {"liburing-dev"},
	"libnuma":  {"libnuma-dev"},
	"libcurl":  {"libcurl4-openssl-dev"},
}

// OptionPackages are the packages option adds to the root of a cell for
// target: the native names for amd64, the ":<target>" multiarch ones for a
// cross target. Options without libraries (nls: gettext is a build tool;
// debug, cassert, ...) add none.
func OptionPackages(option, target string) []string {
	pkgs := optionPackages[option]
	if target == HostArch {
		return slices.Clone(pkgs)
	}
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		name, rest, _ := strings.Cut(p, " ")
		out[i] = strings.TrimSpace(name + ":" + target + " " + rest)
	}
	return out
}
