package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/toolchains"
)

func init() { register(newInitCmd) }

func newInitCmd(e *env) *cobra.Command {
	var force, minimal bool
	c := &cobra.Command{
		Use:   "init [--minimal]",
		Short: "write a commented starter monogres.toml",
		Long: `Write a commented starter monogres.toml (at --manifest) that locks and builds
as it is: Postgres 15.18 and the newest 18, every option set, amd64 and
arm64, with the built-in toolchain (a shell, coreutils, the build tools and
the arm64 cross compiler) listed so you can see and edit it. --minimal
writes amd64 barebones cells only.`,
		Example: `  monogres init && monogres lock && monogres build 'postgres~*~barebones~amd64'
  monogres init --minimal
  monogres --manifest demo/monogres.toml init --force`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return runInit(e, force, minimal) },
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing manifest")
	c.Flags().BoolVar(&minimal, "minimal", false, "amd64 barebones cells only (the smallest toolchain)")
	return c
}

func runInit(e *env, force, minimal bool) error {
	if _, err := os.Stat(e.manifestPath); err == nil && !force {
		return fmt.Errorf("%s already exists (use --force to overwrite)", e.manifestPath)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(e.manifestPath), 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(e.manifestPath, []byte(starterManifest(minimal))); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s; next: monogres lock\n", e.manifestPath)
	return nil
}

// starterManifest is the manifest init writes. Its toolchain lists are the
// built-in defaults (toolchains.BasePackages, BuildTools,
// CrossArm64Packages), so a starter's roots are the ones monogres tests.
func starterManifest(minimal bool) string {
	var b strings.Builder
	b.WriteString(`# monogres.toml: the Postgres distribution you want, declared.
# ` + "`monogres lock`" + ` pins every input by sha256 into monogres.lock;
# ` + "`monogres build`" + ` builds the default cells hermetically.

# Cells ` + "`monogres build`" + ` builds when none are named (globs).
default = ["postgres~*~barebones~amd64"]

# Directories searched for inputs by file name before downloading
# (top level: it must come before the first [table]).
# distdirs = ["/srv/distfiles"]

[postgres]
# Exact versions ("15.18") or specs ("18.*", ">=16.2,<17"). Each spec resolves to
# the newest release in monogres' index and is locked as input postgres/MAJOR.
versions = ["15.18", "18.*"]
# versions_all = ["16.*"]    # every matching release, each its own input
`)
	if minimal {
		b.WriteString(`option_sets = ["barebones"]    # also: minimal, regular, full, debug
targets = ["amd64"]            # also: arm64 (add [toolchain.target.arm64], see monogres init)
`)
	} else {
		b.WriteString(`option_sets = ["barebones", "minimal", "regular", "full", "debug"]
targets = ["amd64", "arm64"]

# Options a target cannot take are left out of its cells (see monogres plan).
[target.arm64]
unsupported = ["llvm", "plpython", "plperl", "pltcl"]
`)
	}
	b.WriteString(`
# An extension built with PGXS against every compatible Postgres cell.
# [[extension]]
# name = "pg_similarity"
# versions = ["1.0"]
# build = "pgxs"            # contrib, pgxs, configure, cmake, make, meson or plugin:NAME
# postgres = ">=12"
# [[extension.source]]
# urls = ["https://deb.debian.org/debian/pool/main/p/pg-similarity/pg-similarity_{version}.orig.tar.gz"]
# strip_prefix = "pg_similarity-pg_similarity_{version}"

# Where downloads may also come from.
# [[mirror]]
# from = "https://ftp.postgresql.org/"
# to = "https://mirror.example.com/postgresql/"

# The toolchain: a pinned Debian archive; the lock pins its Release file and
# every .deb by sha256. These lists are monogres' built-in defaults. Each
# cell's root adds the -dev packages of its options (openssl -> libssl-dev,
# ...) and an extension's own packages.
[toolchain]
archive = "https://deb.debian.org/debian"
suite = "bookworm"
components = ["main"]
packages = [
  # a shell, coreutils and the POSIX tools configure and make call
`)
	tomlList(&b, toolchains.BasePackages)
	b.WriteString("  # the build tools\n")
	tomlList(&b, toolchains.BuildTools)
	b.WriteString("]\n")
	if !minimal {
		b.WriteString(`
# The arm64 cross base: the cross compiler, the arm64 C library, and qemu to
# run arm64 programs in smoke tests.
[toolchain.target.arm64]
packages = [
`)
		tomlList(&b, toolchains.CrossArm64Packages)
		b.WriteString("]\n")
	}
	return b.String()
}

// tomlList writes names as indented TOML strings, a few to a line.
func tomlList(b *strings.Builder, names []string) {
	for i := 0; i < len(names); i += 6 {
		b.WriteString(" ")
		for _, n := range names[i:min(i+6, len(names))] {
			fmt.Fprintf(b, " %q,", n)
		}
		b.WriteString("\n")
	}
}
