package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ManifestFormat is the version of the package manifest format.
const ManifestFormat = 1

// Compression names the package compressor setting, recorded in manifests.
const Compression = "zstd (klauspost/compress, SpeedDefault, concurrency 1)"

// Manifest describes one package (of a Postgres or an extension cell):
// what was built, from what, and every entry of the archive.
type Manifest struct {
	Format    int    `json:"format"`
	Cell      string `json:"cell"`
	ActionKey string `json:"action_key"`
	// LockDigest is the lock of the build that produced this output. The
	// action key does not cover it: every lock with the same key shares
	// the cached output, which keeps the first builder's lock digest.
	LockDigest      string `json:"lock_digest,omitempty"`
	Source          string `json:"source"` // lock input name of the source (Postgres or extension)
	SourceSHA256    string `json:"source_sha256"`
	SourceDateEpoch int64  `json:"source_date_epoch"`
	Prefix          string `json:"prefix"`
	Compression     string `json:"compression"`
	// Package is the hex sha256 of the .tar.zst; Size its length.
	Package string      `json:"package"`
	Size    int64       `json:"size"`
	Files   []FileEntry `json:"files"`
	// Extension cells only: what was built and the Postgres package it
	// was built against.
	Extension        string `json:"extension,omitempty"`
	ExtensionVersion string `json:"extension_version,omitempty"`
	Recipe           string `json:"recipe,omitempty"`
	PluginSHA256     string `json:"plugin_sha256,omitempty"`
	Parent           string `json:"parent,omitempty"`
	ParentPackage    string `json:"parent_package,omitempty"`
	// Requires are the extension packages installed beside the parent
	// for the build and the smoke test: a host needs them too.
	Requires []Required `json:"requires,omitempty"`
	// Runtime are the shared libraries the package needs and does not
	// contain (an extension's: nor its parent), resolved to the toolchain
	// root's Debian packages; RuntimePackages are those a host must have
	// ("name=version"; bundled libraries are in the package's lib/).
	Runtime         []Library `json:"runtime,omitempty"`
	RuntimePackages []string  `json:"runtime_packages,omitempty"`
	// Regress is the outcome of the extension's own pg_regress suite.
	Regress *RegressResult `json:"regress,omitempty"`
}

// Required is an extension package another extension's package needs.
type Required struct {
	Cell    string `json:"cell"`
	Package string `json:"package"` // hex sha256 of its .tar.zst
}

// FileEntry is one archive entry. Paths are relative to Prefix, sorted.
type FileEntry struct {
	Path   string `json:"path"`
	Type   string `json:"type"` // "dir", "file" or "symlink"
	Mode   string `json:"mode"` // "0755" or "0644"
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"` // symlinks
}

// Pack writes the tree at dir as a deterministic tar.zst to w and returns
// its entries: sorted paths, mtime = epoch, uid/gid 0 without names, modes
// 0755 (directories and files with any execute bit) or 0644, symlinks kept
// as symlinks, hard links stored as files. Other file types are an error.
func Pack(ctx context.Context, dir string, epoch int64, w io.Writer) ([]FileEntry, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build: packing %s: %w", dir, err)
	}
	slices.Sort(paths)
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	mtime := time.Unix(epoch, 0)
	var entries []FileEntry
	buf := make([]byte, 1<<20)
	for _, rel := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		full := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(full)
		if err != nil {
			return nil, fmt.Errorf("build: packing %s: %w", full, err)
		}
		h := &tar.Header{Name: rel, ModTime: mtime, Format: tar.FormatPAX}
		e := FileEntry{Path: rel}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, rel+"/", 0o755
			e.Type, e.Mode = "dir", "0755"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return nil, fmt.Errorf("build: packing %s: %w", full, err)
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
			e.Type, e.Mode, e.Target = "symlink", "0777", target
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size, h.Mode = tar.TypeReg, fi.Size(), 0o644
			e.Type, e.Mode, e.Size = "file", "0644", fi.Size()
			if fi.Mode()&0o111 != 0 {
				h.Mode, e.Mode = 0o755, "0755"
			}
		default:
			return nil, fmt.Errorf("build: packing %s: unsupported file type %v", full, fi.Mode().Type())
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("build: packing %s: %w", full, err)
		}
		if e.Type == "file" {
			f, err := os.Open(full)
			if err != nil {
				return nil, fmt.Errorf("build: packing %s: %w", full, err)
			}
			sh := sha256.New()
			n, err := io.CopyBuffer(io.MultiWriter(tw, sh), f, buf)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("build: packing %s: %w", full, err)
			}
			if n != fi.Size() {
				return nil, fmt.Errorf("build: packing %s: size changed while reading", full)
			}
			e.SHA256 = hex.EncodeToString(sh.Sum(nil))
		}
		entries = append(entries, e)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return entries, nil
}

// EncodeManifest is the canonical JSON of m (indented, trailing newline).
func EncodeManifest(m *Manifest) []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // plain data: cannot fail
	return append(b, '\n')
}

// DecodeManifest parses a manifest; name is used in errors.
func DecodeManifest(name string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: manifest format %d, this monogres reads %d", name, m.Format, ManifestFormat)
	}
	return &m, nil
}
