package build

import (
	"fmt"
	"os"
	"strings"

	"github.com/monogres/monogres/internal/event"
)

// FileDiff is one file that differs between two builds of a cell. A side
// with Type "" does not have the file.
type FileDiff struct {
	Path string    `json:"path"`
	A    FileEntry `json:"a"`
	B    FileEntry `json:"b"`
}

// compare is the verify step of a cell: ref is its cached (or just built)
// result, again the rebuild that bypassed the cache, in a different scratch
// path (<scratch>/verify), at a later wall-clock time and with a different
// job count (MakeJobs+1). Identical packages make the cell "verified"; a
// mismatch fails it, lists the differing files (sizes and hashes) from the
// two manifests and suggests diffoscope on the two packages (the rebuilt
// one is written as <cell>.verify.tar.zst).
func (e *engine) compare(c Cell, ref, again Result) Result {
	r := ref
	r.Rebuilt = again.Package
	if again.Package == ref.Package {
		r.State = event.StateVerified
		return r
	}
	diff, err := e.diffManifests(ref.Manifest, again.Manifest)
	if err != nil {
		r.State, r.Err = event.StateFailed, err
		return r
	}
	r.Diff = diff
	rb := Result{Package: again.Package, Manifest: again.Manifest}
	if err := e.publish(c.Name, &rb, ".verify"); err != nil {
		r.State, r.Err = event.StateFailed, err
		return r
	}
	r.State, r.Err = event.StateFailed, mismatchError(c.Name, ref, rb, diff)
	return r
}

func (e *engine) readManifest(sha string) (*Manifest, error) {
	f, err := e.cfg.Store.Open(sha)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, err
	}
	return DecodeManifest(f.Name(), b)
}

func (e *engine) diffManifests(a, b string) ([]FileDiff, error) {
	ma, err := e.readManifest(a)
	if err != nil {
		return nil, err
	}
	mb, err := e.readManifest(b)
	if err != nil {
		return nil, err
	}
	return DiffFiles(ma.Files, mb.Files), nil
}

// DiffFiles lists the entries that differ between two sorted file lists.
func DiffFiles(a, b []FileEntry) []FileDiff {
	var out []FileDiff
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			out = append(out, FileDiff{Path: a[i].Path, A: a[i]})
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			out = append(out, FileDiff{Path: b[j].Path, B: b[j]})
			j++
		default:
			if a[i] != b[j] {
				out = append(out, FileDiff{Path: a[i].Path, A: a[i], B: b[j]})
			}
			i++
			j++
		}
	}
	return out
}

func describe(f FileEntry) string {
	switch f.Type {
	case "":
		return "absent"
	case "file":
		return fmt.Sprintf("%d bytes sha256 %.16s mode %s", f.Size, f.SHA256, f.Mode)
	case "symlink":
		return "symlink -> " + f.Target
	}
	return f.Type + " mode " + f.Mode
}

func mismatchError(cell string, a, b Result, diff []FileDiff) error {
	var s strings.Builder
	fmt.Fprintf(&s, "build: verify %s: not reproducible: package sha256 %s (cached build) != %s (rebuild)\n", cell, a.Package, b.Package)
	if len(diff) == 0 {
		s.WriteString("  every file is identical: the archive itself differs (entry metadata or compression)\n")
	}
	for k, d := range diff {
		if k == 50 {
			fmt.Fprintf(&s, "  ... and %d more files\n", len(diff)-k)
			break
		}
		fmt.Fprintf(&s, "  %s: %s | %s\n", d.Path, describe(d.A), describe(d.B))
	}
	fmt.Fprintf(&s, "  look deeper with: diffoscope %s %s", a.PackagePath, b.PackagePath)
	return fmt.Errorf("%s", s.String())
}
