package toolchains

import (
	"fmt"
	"slices"
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
	// HostDevPackages are the libraries of the option sets (minimal,
	// regular, full), for the native arch, including LLVM 14 and clang 14
	// for JIT.
	HostDevPackages = []string{
		"clang-14", "libcurl4-openssl-dev", "libicu-dev", "libkrb5-dev",
		"libldap2-dev", "liblz4-dev", "libnuma-dev", "libpam0g-dev",
		"libperl-dev", "libreadline-dev", "libselinux1-dev", "libssl-dev",
		"libsystemd-dev", "liburing-dev", "libxml2-dev", "libxslt1-dev",
		"libzstd-dev", "llvm-14-dev", "python3-dev", "tcl-dev", "uuid-dev",
		"zlib1g-dev",
	}
	// CrossArm64Packages make the arm64 cross root: the cross compiler, the
	// option sets' libraries for arm64 (Multi-Arch: same, co-installed with
	// the native ones), and qemu to run arm64 programs in tests. LLVM JIT,
	// plpython, plperl and pltcl are not cross-built.
	CrossArm64Packages = []string{
		"g++-aarch64-linux-gnu", "gcc-aarch64-linux-gnu",
		"libc6-dev-arm64-cross", "qemu-user-static",
		"libc6-dev:arm64", "libcurl4-openssl-dev:arm64", "libicu-dev:arm64",
		"libkrb5-dev:arm64", "libldap2-dev:arm64", "liblz4-dev:arm64",
		"libnuma-dev:arm64", "libpam0g-dev:arm64", "libreadline-dev:arm64",
		"libselinux1-dev:arm64", "libssl-dev:arm64", "libsystemd-dev:arm64",
		"liburing-dev:arm64", "libxml2-dev:arm64", "libxslt1-dev:arm64",
		"libzstd-dev:arm64", "uuid-dev:arm64", "zlib1g-dev:arm64",
	}
)

// DefaultRequest is the default root for target: "amd64" is the native
// build root (base, build tools, host -dev packages); "arm64" is the cross
// root, which runs on amd64 and adds CrossArm64Packages to the native one.
func DefaultRequest(target string) (Request, error) {
	native := slices.Concat(BasePackages, BuildTools, HostDevPackages)
	switch target {
	case "amd64":
		return Request{Arch: "amd64", Packages: native}, nil
	case "arm64":
		return Request{Arch: "amd64", Packages: slices.Concat(native, CrossArm64Packages)}, nil
	}
	return Request{}, fmt.Errorf("toolchains: no default toolchain for target arch %q (have amd64, arm64)", target)
}
