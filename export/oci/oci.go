// Package oci writes monogres packages as OCI images into an OCI image
// layout (go-containerregistry): a Postgres cell becomes a runnable image
// (its runtime base, a layer with the postgres user (uid 999) and its
// directories, and the package at /usr/local/pgsql, postgres on PATH); an
// extension cell becomes a FROM-scratch image holding only the extension's
// lib/ and share/ tree, the layout CloudNativePG mounts as an image volume
// for extension_control_path and dynamic_library_path. The SBOM and the
// provenance beside a package are attached as OCI 1.1 referrers.
//
// Invariant: the same packages and base give the same image digests (every
// timestamp is the package's SOURCE_DATE_EPOCH, tar streams are sorted,
// gzip has no name or time).
package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/export"
)

// UID is the postgres user of Postgres images (the Debian and official
// images' convention).
const UID = 999

// RuntimeBase names the Debian packages of a Postgres image's base: the C
// library, libgcc, a /bin/sh (initdb runs postgres through it) and
// libc-bin for the C.UTF-8 locale the image's LANG names (without it
// initdb stops: "invalid locale settings").
var RuntimeBase = []string{"libc6", "libgcc-s1", "dash", "libc-bin"}

// Cell is one package to export.
type Cell struct {
	Name string
	Arch string // Debian/OCI arch: amd64, arm64
	// PackagePath is the .tar.zst; Manifest its CELL.json.
	PackagePath string
	Manifest    build.Manifest
	// Extension is set for extension cells (then Base is unused).
	Extension string
	// Base is the composed root of RuntimeBase (a directory) for a
	// Postgres cell.
	Base string
	// Attach are files to attach as referrers, e.g. the SBOM and
	// provenance, with their artifact media types.
	Attach []Attachment
}

// Attachment is a document attached to an image as an OCI referrer.
type Attachment struct {
	Path      string
	MediaType string // e.g. "application/spdx+json"
}

// Image is one written image.
type Image struct {
	Cell   string
	Ref    string // org.opencontainers.image.ref.name in index.json
	Digest string // "sha256:..." of the image manifest
}

// RefName is the ref name of a cell's image: the cell name with "~"
// (which OCI ref names may not hold) as "_".
func RefName(cell string) string { return strings.ReplaceAll(cell, "~", "_") }

// Write writes an OCI image layout at out holding one image per cell (and
// their referrers); index.json is rewritten, blobs are shared.
func Write(ctx context.Context, out string, cells []Cell) ([]Image, error) {
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("export oci: %w", err)
	}
	var imgs []Image
	for _, c := range cells {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := image(c)
		if err != nil {
			return nil, fmt.Errorf("export oci: %s: %w", c.Name, err)
		}
		ref := RefName(c.Name)
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			return nil, fmt.Errorf("export oci: %s: %w", c.Name, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		if err := attach(p, img, c); err != nil {
			return nil, fmt.Errorf("export oci: %s: %w", c.Name, err)
		}
		imgs = append(imgs, Image{Cell: c.Name, Ref: ref, Digest: d.String()})
	}
	return imgs, nil
}

func layer(entries []export.Entry, epoch int64) (v1.Layer, error) {
	b := export.Tar(entries, epoch)
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(6))
}

// image builds the image of one cell.
func image(c Cell) (v1.Image, error) {
	m := c.Manifest
	pkg, err := export.ReadPackage(c.PackagePath)
	if err != nil {
		return nil, err
	}
	var layers []v1.Layer
	cfg := v1.Config{Labels: map[string]string{
		"org.opencontainers.image.title":    c.Name,
		"org.opencontainers.image.version":  m.Cell,
		"dev.monogres.package.sha256":       m.Package,
		"dev.monogres.action-key":           m.ActionKey,
		"dev.monogres.lock-digest":          m.LockDigest,
		"dev.monogres.source":               m.Source,
		"dev.monogres.source.sha256":        m.SourceSHA256,
		"org.opencontainers.image.licenses": "PostgreSQL",
	}}
	if c.Extension != "" {
		delete(cfg.Labels, "org.opencontainers.image.licenses")
		l, err := layer(pkg, m.SourceDateEpoch)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	} else {
		if c.Base == "" {
			return nil, fmt.Errorf("a Postgres image needs its runtime base (%s)", strings.Join(RuntimeBase, ", "))
		}
		base, err := export.ReadDir(c.Base)
		if err != nil {
			return nil, err
		}
		if err := checkNeeded(pkg, base); err != nil {
			return nil, err
		}
		user := []export.Entry{
			export.File("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/bin/sh\npostgres:x:%d:%d:PostgreSQL:/var/lib/postgresql:/bin/sh\n", UID, UID)),
			export.File("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\npostgres:x:%d:\n", UID)),
			export.Dir("tmp", 0o1777, 0, 0),
			export.Dir("var", 0o755, 0, 0),
			export.Dir("var/lib", 0o755, 0, 0),
			export.Dir("var/lib/postgresql", 0o700, UID, UID),
			export.Dir("var/run", 0o755, 0, 0),
			export.Dir("var/run/postgresql", 0o2775, UID, UID),
		}
		for _, es := range [][]export.Entry{base, user, export.Prefixed(build.Prefix, pkg)} {
			l, err := layer(es, m.SourceDateEpoch)
			if err != nil {
				return nil, err
			}
			layers = append(layers, l)
		}
		cfg.User = fmt.Sprintf("%d:%d", UID, UID)
		cfg.Env = []string{"PATH=" + build.Prefix + "/bin:/usr/local/bin:/usr/bin:/bin", "PGDATA=/var/lib/postgresql/data", "LANG=C.UTF-8"}
		cfg.Cmd = []string{"postgres"}
		cfg.WorkingDir = "/var/lib/postgresql"
		cfg.ExposedPorts = map[string]struct{}{"5432/tcp": {}}
		cfg.StopSignal = "SIGINT"
	}
	created := v1.Time{Time: timeOf(m.SourceDateEpoch)}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: created, CreatedBy: "monogres export oci"}})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.Created = created
	cf.OS, cf.Architecture = "linux", c.Arch
	if c.Arch == "arm64" {
		cf.Variant = "v8"
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.title":   c.Name,
		"org.opencontainers.image.created": created.UTC().Format("2006-01-02T15:04:05Z"),
		"dev.monogres.package.sha256":      m.Package,
	}).(v1.Image), nil
}

// checkNeeded fails when a shared library the package needs is neither in
// the package nor in the base: runtime dependencies are not recorded yet,
// so only packages needing the base's libraries can be exported.
func checkNeeded(pkg, base []export.Entry) error {
	need, err := export.Needed(pkg)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, e := range append(slices.Clone(base), pkg...) {
		have[e.Header.Name[strings.LastIndexByte(e.Header.Name, '/')+1:]] = true
	}
	var missing []string
	for _, n := range need {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the package needs %s, which the runtime base (%s) does not hold; the build does not record runtime dependencies yet, so only cells needing the C library export as images", strings.Join(missing, ", "), strings.Join(RuntimeBase, ", "))
	}
	return nil
}

// attach writes each attachment as an OCI 1.1 artifact manifest whose
// subject is img, listed in index.json.
func attach(p layout.Path, img v1.Image, c Cell) error {
	if len(c.Attach) == 0 {
		return nil
	}
	subject, err := descriptor(img)
	if err != nil {
		return err
	}
	emptyCfg := []byte("{}")
	cfgHash, cfgSize, _ := v1.SHA256(bytes.NewReader(emptyCfg))
	if err := p.WriteBlob(cfgHash, io.NopCloser(bytes.NewReader(emptyCfg))); err != nil {
		return err
	}
	for _, a := range c.Attach {
		b, err := os.ReadFile(a.Path)
		if err != nil {
			return err
		}
		h, size, _ := v1.SHA256(bytes.NewReader(b))
		if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(b))); err != nil {
			return err
		}
		name := a.Path[strings.LastIndexByte(a.Path, '/')+1:]
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			ArtifactType:  a.MediaType,
			Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: cfgHash, Size: cfgSize},
			Layers: []v1.Descriptor{{MediaType: types.MediaType(a.MediaType), Digest: h, Size: size,
				Annotations: map[string]string{"org.opencontainers.image.title": name}}},
			Subject:     subject,
			Annotations: map[string]string{"org.opencontainers.image.created": timeOf(c.Manifest.SourceDateEpoch).UTC().Format("2006-01-02T15:04:05Z")},
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		mh, msize, _ := v1.SHA256(bytes.NewReader(raw))
		if err := p.WriteBlob(mh, io.NopCloser(bytes.NewReader(raw))); err != nil {
			return err
		}
		if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: a.MediaType, Digest: mh, Size: msize}); err != nil {
			return err
		}
	}
	return nil
}

func descriptor(img v1.Image) (*v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := img.Size()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

func timeOf(epoch int64) time.Time { return time.Unix(epoch, 0).UTC() }
