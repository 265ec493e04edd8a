package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
)

// WalkFunc is called for each entry of a walked archive. h.Name (and
// h.Linkname of a hard link) is already cleaned: relative, without ".."
// components or a leading "./". r reads a regular file's contents.
type WalkFunc func(h *tar.Header, r io.Reader) error

// Walk reads the tar archive in r (tar, tar.gz, tar.bz2, tar.xz, tar.zst,
// or the data.tar.* member of a .deb; detected from magic bytes) as a
// stream, without writing anything, and calls fn for each file, directory,
// symlink and hard link, in archive order. Names that Extract would refuse
// (absolute, "..", NUL) are an error naming the archive and entry; device
// files and FIFOs are skipped (a caller placing files has no use for them).
// The total file size is bounded by DefaultMaxBytes and the entry count by
// DefaultMaxFiles. r is not read past the end of the archive; a caller
// hashing r must drain it.
func Walk(ctx context.Context, r io.Reader, name string, fn WalkFunc) error {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(512)
	format, err := detect(name, head)
	if err != nil {
		return err
	}
	var tr io.Reader = br
	if format == Deb {
		if tr, format, err = debData(br, name); err != nil {
			return err
		}
	}
	if format == Zip {
		return fmt.Errorf("%s: zip cannot be read as a stream", name)
	}
	dr, closer, err := decompressFast(ctx, format, tr)
	if err != nil {
		return fmt.Errorf("%s: %s: %v", name, format, err)
	}
	defer closer()
	t := tar.NewReader(dr)
	var total int64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := t.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: reading %s: %v", name, format, err)
		}
		if n >= DefaultMaxFiles {
			return fmt.Errorf("%s: more than %d entries; refusing a possible decompression bomb", name, DefaultMaxFiles)
		}
		switch h.Typeflag {
		case tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		case tar.TypeReg, tar.TypeRegA:
			h.Typeflag = tar.TypeReg
			if total += h.Size; total > DefaultMaxBytes {
				return fmt.Errorf("%s: more than %d bytes of files; refusing a possible decompression bomb", name, int64(DefaultMaxBytes))
			}
		default:
			continue
		}
		orig := h.Name
		clean, reason := cleanName(orig, "")
		if reason != "" {
			return fmt.Errorf("%s: entry %q: %s", name, orig, reason)
		}
		if clean == "" {
			continue // "." itself
		}
		h.Name = clean
		if h.Typeflag == tar.TypeLink {
			if h.Linkname, reason = cleanName(h.Linkname, ""); reason != "" || h.Linkname == "" {
				return fmt.Errorf("%s: entry %q: hard link target: %s", name, orig, reason)
			}
		}
		if err := fn(h, t); err != nil {
			return err
		}
	}
}

// xzPath is an xz program, several times faster than the pure Go decoder
// (same output); "" when none is installed.
var xzPath = sync.OnceValue(func() string {
	p, _ := exec.LookPath("xz")
	return p
})

// decompressFast is decompress with tar.xz going through the xz program
// when one is installed. The returned func releases the decoder.
func decompressFast(ctx context.Context, f Format, r io.Reader) (io.Reader, func(), error) {
	if f != TarXz || xzPath() == "" {
		return decompress(f, r)
	}
	cmd := exec.CommandContext(ctx, xzPath(), "--decompress", "--stdout", "--single-stream")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = r, &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	x := &xzReader{r: out, cmd: cmd, stderr: &stderr}
	return x, x.close, nil
}

// xzReader reads the xz program's output and reports its exit status at EOF.
type xzReader struct {
	r      io.Reader
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   bool
}

func (x *xzReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err == io.EOF && !x.done {
		x.done = true
		if werr := x.cmd.Wait(); werr != nil {
			return n, fmt.Errorf("xz: %v: %s", werr, bytes.TrimSpace(x.stderr.Bytes()))
		}
	}
	return n, err
}

func (x *xzReader) close() {
	if !x.done {
		x.done = true
		x.cmd.Process.Kill()
		x.cmd.Wait()
	}
}
