// Package deb writes monogres packages as Debian binary packages: the
// package's tree below a configurable prefix, Depends computed from the
// shared libraries its ELF files need (libc6 and libgcc-s1 at the versions
// of the root it was built in; an extension depends on its Postgres
// package), deterministic bytes (ar and tar members sorted, one mtime, gzip
// without name or time).
package deb

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blakesmith/ar"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/export"
)

// Cell is one package to export.
type Cell struct {
	Name string
	Arch string
	// PackagePath is the .tar.zst; Manifest its CELL.json.
	PackagePath string
	Manifest    build.Manifest
	// Version is the Postgres version (for a Postgres cell) or the
	// extension version; OptionSet the parent's option set.
	Version   string
	OptionSet string
	// Extension cells: the extension and the Postgres cell it was built
	// against (the deb depends on that cell's deb).
	Extension string
	Parent    string
	// RootVersions maps a Debian package name of the cell's build root to
	// its version (Depends take libc6's and libgcc-s1's from it).
	RootVersions map[string]string
}

// Options are the export settings.
type Options struct {
	// Prefix is where the Postgres tree is installed; "" means
	// DefaultPrefix of the Postgres cell. An extension deb installs into
	// its Postgres deb's prefix.
	Prefix     string
	Maintainer string
}

// PackageName is the Debian package name of a Postgres cell
// ("postgres~15.18~barebones~amd64" → "monogres-postgres-15.18-barebones")
// or an extension cell (the extension, its version and the Postgres cell).
func PackageName(cell string) string {
	parts := strings.Split(cell, "~")
	if len(parts) > 1 {
		parts = parts[:len(parts)-1] // the arch is the deb's Architecture
	}
	s := strings.ToLower(strings.Join(parts, "-"))
	return "monogres-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '+' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// DefaultPrefix is /opt/monogres/<PackageName of the Postgres cell without
// "monogres-">: relocatable Postgres builds find their files from there.
func DefaultPrefix(pgCell string) string {
	return "/opt/monogres/" + strings.TrimPrefix(PackageName(pgCell), "monogres-")
}

// Write writes c as <out>/<name>_<version>_<arch>.deb and returns its path.
func Write(out string, c Cell, o Options) (string, error) {
	entries, err := export.ReadPackage(c.PackagePath)
	if err != nil {
		return "", fmt.Errorf("export deb: %w", err)
	}
	pgCell := c.Name
	if c.Extension != "" {
		pgCell = c.Parent
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix(pgCell)
	}
	if !strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "..") {
		return "", fmt.Errorf("export deb: prefix %q: want an absolute path without ..", prefix)
	}
	depends, err := depends(c, entries)
	if err != nil {
		return "", fmt.Errorf("export deb: %s: %w", c.Name, err)
	}
	data := export.Prefixed(prefix, entries)
	var md5s strings.Builder
	var size int64
	for i := range data {
		data[i].Header.Name = "./" + data[i].Header.Name
		if data[i].Header.Typeflag == '0' {
			h := md5.Sum(data[i].Data)
			fmt.Fprintf(&md5s, "%s  %s\n", hex.EncodeToString(h[:]), strings.TrimPrefix(data[i].Header.Name, "./"))
			size += int64(len(data[i].Data))
		}
	}
	slices.SortFunc(data, func(a, b export.Entry) int { return strings.Compare(a.Header.Name, b.Header.Name) })
	data = append([]export.Entry{export.Dir(".", 0o755, 0, 0)}, data...)
	name := PackageName(c.Name)
	maint := o.Maintainer
	if maint == "" {
		maint = "monogres <monogres@localhost>"
	}
	desc := fmt.Sprintf("PostgreSQL %s (%s) built reproducibly by monogres\n cell %s, package sha256 %s,\n installed in %s", c.Version, c.OptionSet, c.Name, c.Manifest.Package, prefix)
	if c.Extension != "" {
		desc = fmt.Sprintf("PostgreSQL extension %s %s for %s, built reproducibly by monogres\n cell %s, package sha256 %s,\n installed in %s", c.Extension, c.Version, c.Parent, c.Name, c.Manifest.Package, prefix)
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %d\n", name, debVersion(c.Version), c.Arch, maint, (size+1023)/1024)
	if len(depends) > 0 {
		control += "Depends: " + strings.Join(depends, ", ") + "\n"
	}
	control += "Section: database\nPriority: optional\nHomepage: https://github.com/monogres/monogres\nDescription: " + desc + "\n"
	epoch := c.Manifest.SourceDateEpoch
	ctl := export.Tar([]export.Entry{export.Dir(".", 0o755, 0, 0), export.File("./control", 0o644, []byte(control)), export.File("./md5sums", 0o644, []byte(md5s.String()))}, epoch)

	var b bytes.Buffer
	aw := ar.NewWriter(&b)
	if err := aw.WriteGlobalHeader(); err != nil {
		return "", err
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", gz(ctl)}, {"data.tar.gz", gz(export.Tar(data, epoch))}} {
		if err := aw.WriteHeader(&ar.Header{Name: m.name, ModTime: time.Unix(epoch, 0), Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			return "", err
		}
		if _, err := aw.Write(m.data); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(out, fmt.Sprintf("%s_%s_%s.deb", name, debVersion(c.Version), c.Arch))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// depends computes Depends: the runtime closure CELL.json records (its
// Debian packages at their root versions or later, not bundled
// libraries), else from the shared libraries the ELF files need.
func depends(c Cell, entries []export.Entry) ([]string, error) {
	if rt := build.RuntimePackages(c.Manifest.Runtime); len(rt) > 0 {
		var out []string
		for _, nv := range rt {
			name, v, _ := strings.Cut(nv, "=")
			out = append(out, name+" (>= "+upstream(v)+")")
		}
		if c.Extension != "" {
			out = append(out, PackageName(c.Parent))
		}
		slices.Sort(out)
		return out, nil
	}
	need, err := export.Needed(entries)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out, unknown []string
	for _, so := range need {
		pkg := export.Provider(so)
		if pkg == "" {
			if c.Extension != "" {
				continue // the Postgres deb's own libraries, or checked there
			}
			unknown = append(unknown, so)
			continue
		}
		if seen[pkg] {
			continue
		}
		seen[pkg] = true
		d := pkg
		if v := c.RootVersions[pkg]; v != "" {
			d += " (>= " + upstream(v) + ")"
		}
		out = append(out, d)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("needs %s, and the build records no runtime dependencies yet (only libc6 and libgcc-s1 are known): cannot write a correct Depends", strings.Join(unknown, ", "))
	}
	if c.Extension != "" {
		out = append(out, PackageName(c.Parent))
	}
	slices.Sort(out)
	return out, nil
}

// upstream is a Debian version without its revision ("2.36-9+deb12u4" →
// "2.36"), a lower bound every later revision meets.
func upstream(v string) string {
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return v
}

// debVersion makes a version Debian accepts (it must start with a digit).
func debVersion(v string) string {
	if v == "" || v[0] < '0' || v[0] > '9' {
		return "0~" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".+~", r) {
				return r
			}
			return '.'
		}, v)
	}
	return v
}

// gz compresses b deterministically (no name, no time, fixed level).
func gz(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, 9)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}
