package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"

	"context"

	"github.com/monogres/monogres/export/deb"
	"github.com/monogres/monogres/export/oci"
	"github.com/monogres/monogres/internal/evidence"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func init() { register(newExportCmd) }

func newExportCmd(e *env) *cobra.Command {
	sub := func(format, what string) *cobra.Command {
		var out, from, prefix string
		c := &cobra.Command{
			Use:               format + " CELL... --out DIR",
			Short:             "write built packages as " + what,
			Example:           "  monogres export " + format + " 'postgres~15.18~regular~amd64' --out " + format + "-out",
			Args:              minArgs(1),
			ValidArgsFunction: e.completeCells,
			RunE: func(_ *cobra.Command, cells []string) error {
				if out == "" {
					return usageError{"export " + format + ": want --out DIR"}
				}
				return runExport(e, format, cells, out, from, prefix)
			},
		}
		c.Flags().StringVar(&out, "out", "", "directory to write ("+what+")")
		c.Flags().StringVar(&from, "from", "out", "directory holding CELL.tar.zst and CELL.json (monogres build --out)")
		if format == "deb" {
			c.Flags().StringVar(&prefix, "prefix", "", "install prefix (default /opt/monogres/<postgres cell>)")
		}
		return c
	}
	return group(&cobra.Command{
		Use:   "export",
		Short: "write built packages as an OCI image layout (export oci) or .deb files (export deb)",
		Long:  "Read the packages `monogres build` published (--from, default out/) and write an OCI image layout or .deb files.",
		Example: `  monogres export oci 'postgres~15.18~*~amd64' --out oci
  monogres export deb 'postgres~15.18~regular~amd64' --out debs`,
	}, sub("oci", "an OCI image layout"), sub("deb", ".deb files"))
}

// runExport writes cells' packages from from/ as format into out.
func runExport(e *env, format string, cells []string, out, from, prefix string) error {
	_, l, err := app.ReadLock(e.lockPath)
	if err != nil {
		return fmt.Errorf("%v (export takes the runtime base and Depends from the lock's toolchain)", err)
	}
	var pkgs []*evidence.Package
	for _, c := range cells {
		p, err := evidence.Load(c, filepath.Join(from, c+".tar.zst"), filepath.Join(from, c+".json"))
		if err != nil {
			return fmt.Errorf("%w (build it first: monogres build --out %s %s)", err, from, c)
		}
		pkgs = append(pkgs, p)
	}
	if format == "deb" {
		for _, p := range pkgs {
			path, err := deb.Write(out, debCell(p, l), deb.Options{Prefix: prefix})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", p.Cell, path)
		}
		return nil
	}
	var ocells []oci.Cell
	for _, p := range pkgs {
		c := oci.Cell{Name: p.Cell, Arch: cellArch(p.Cell), PackagePath: p.PackagePath, Manifest: p.Manifest, Extension: p.Ext.Extension}
		for _, a := range []oci.Attachment{
			{Path: strings.TrimSuffix(p.PackagePath, ".tar.zst") + evidence.SBOMSuffix, MediaType: "application/spdx+json"},
			{Path: strings.TrimSuffix(p.PackagePath, ".tar.zst") + evidence.ProvenanceSuffix, MediaType: "application/vnd.dsse.envelope.v1+json"},
		} {
			if _, err := os.Stat(a.Path); err == nil {
				c.Attach = append(c.Attach, a)
			}
		}
		if c.Extension == "" {
			if c.Base, err = e.runtimeBase(l, c.Arch); err != nil {
				return err
			}
		}
		ocells = append(ocells, c)
	}
	imgs, err := oci.Write(e.ctx, out, ocells)
	if err != nil {
		return err
	}
	for _, i := range imgs {
		fmt.Fprintf(e.stdout, "%s: oci:%s:%s %s\n", i.Cell, out, i.Ref, i.Digest)
	}
	return nil
}

func cellArch(cell string) string { return cell[strings.LastIndexByte(cell, '~')+1:] }

// debCell is the deb exporter's view of a package.
func debCell(p *evidence.Package, l *lock.Lock) deb.Cell {
	parts := strings.Split(p.Cell, "~")
	arch := cellArch(p.Cell)
	c := deb.Cell{Name: p.Cell, Arch: arch, PackagePath: p.PackagePath, Manifest: p.Manifest, RootVersions: map[string]string{}}
	if len(parts) >= 2 {
		c.Version, c.OptionSet = parts[1], parts[len(parts)-2]
	}
	if p.Ext.Extension != "" {
		c.Extension, c.Parent, c.Version = p.Ext.Extension, p.Ext.Parent, p.Ext.ExtensionVersion
	}
	pkgs, _ := toolchains.FromLock(l).Packages(toolchains.Cell{Target: arch})
	for _, pk := range pkgs {
		c.RootVersions[pk.Name] = pk.Version
	}
	return c
}

// runtimeBase composes (or finds cached) the root of oci.RuntimeBase from
// the lock's toolchain packages for arch, read from the store.
func (e *env) runtimeBase(l *lock.Lock, arch string) (string, error) {
	pkgs, err := toolchains.FromLock(l).Packages(toolchains.Cell{Target: arch})
	if err != nil {
		return "", fmt.Errorf("export oci: runtime base: %w", err)
	}
	var base []toolchains.Package
	for _, p := range pkgs {
		if slices.Contains(oci.RuntimeBase, p.Name) && (p.Arch == arch || p.Arch == "all") {
			base = append(base, p)
		}
	}
	if len(base) != len(oci.RuntimeBase) {
		return "", fmt.Errorf("export oci: the lock's %s toolchain lacks some of %s", arch, strings.Join(oci.RuntimeBase, ", "))
	}
	st, err := app.OpenStore()
	if err != nil {
		return "", err
	}
	open := func(ctx context.Context, p toolchains.Package) (io.ReadCloser, error) { return st.Open(p.SHA256) }
	r, err := toolchains.ComposeCached(e.ctx, st.Dir(), base, open, toolchains.DefaultOptions)
	if err != nil {
		return "", fmt.Errorf("export oci: runtime base: %w (run monogres fetch)", err)
	}
	return r.Dir, nil
}
