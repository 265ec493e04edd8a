package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
)

const starterManifest = `# monogres.toml: the Postgres distribution you want, declared.
# ` + "`monogres lock`" + ` pins every input by sha256 into monogres.lock;
# ` + "`monogres build`" + ` builds the default cells hermetically.

# Cells ` + "`monogres build`" + ` builds when none are named (globs).
default = ["postgres~15.18~*~amd64"]

[postgres]
# Exact versions ("15.18") or specs ("17.*", ">=16.2,<17"). Each spec resolves to
# the newest release in monogres' index and is locked as input postgres/MAJOR.
versions = ["15.18", "17.*"]
# versions_all = ["16.*"]    # every matching release, each its own input
option_sets = ["barebones", "minimal", "regular", "full", "debug"]
targets = ["amd64", "arm64"]

# Options a target cannot take are left out of its cells (see monogres plan).
[target.arm64]
unsupported = ["llvm", "plpython", "plperl", "pltcl"]

# An extension built with PGXS against every compatible Postgres cell.
# [[extension]]
# name = "pg_similarity"
# versions = ["1.0"]
# build = "pgxs"            # contrib, pgxs, meson or plugin:NAME
# postgres = ">=12"
# [[extension.source]]
# urls = ["https://deb.debian.org/debian/pool/main/p/pg-similarity/pg-similarity_{version}.orig.tar.gz"]
# strip_prefix = "pg_similarity-pg_similarity_{version}"

# Where downloads may also come from.
# [[mirror]]
# from = "https://ftp.postgresql.org/"
# to = "https://mirror.example.com/postgresql/"
# distdirs = ["/srv/distfiles"]

[toolchain]
archive = "https://deb.debian.org/debian"
suite = "bookworm"
components = ["main"]
packages = ["gcc", "make", "perl", "bison", "flex", "pkg-config", "libc6-dev"]
`

func init() { register(newInitCmd) }

func newInitCmd(e *env) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "write a commented starter monogres.toml",
		Long:  "Write a commented starter monogres.toml (at --manifest) that locks and builds as it is.",
		Example: `  monogres init && monogres lock
  monogres --manifest demo/monogres.toml init --force`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return runInit(e, force) },
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing manifest")
	return c
}

func runInit(e *env, force bool) error {
	if _, err := os.Stat(e.manifestPath); err == nil && !force {
		return fmt.Errorf("%s already exists (use --force to overwrite)", e.manifestPath)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeFileAtomic(e.manifestPath, []byte(starterManifest)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s; next: monogres lock\n", e.manifestPath)
	return nil
}
