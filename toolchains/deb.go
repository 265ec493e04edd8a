package toolchains

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxDataTar bounds the uncompressed data.tar of one .deb.
const maxDataTar = 4 << 30

// readDataTar reads a .deb (an ar archive: debian-binary, control.tar.*,
// data.tar.*) from r and returns its uncompressed data.tar. r is read to
// the end so a hashing reader under it sees every byte. xzPath, when not
// empty, is an xz program used for data.tar.xz (several times faster than
// the pure Go decoder; the output is the same).
func readDataTar(ctx context.Context, r io.Reader, xzPath string) ([]byte, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, errors.New("not an ar archive (bad magic)")
	}
	var data []byte
	sawBinary := false
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("ar header: %w", err)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, errors.New("ar header: bad terminator")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("ar member %q: bad size %q", name, hdr[48:58])
		}
		body := io.LimitReader(br, size)
		switch {
		case name == "debian-binary":
			b, _ := io.ReadAll(body)
			if !bytes.HasPrefix(b, []byte("2.")) {
				return nil, fmt.Errorf("debian-binary %q: unsupported format", bytes.TrimSpace(b))
			}
			sawBinary = true
		case strings.HasPrefix(name, "data.tar"):
			if data != nil {
				return nil, errors.New("two data.tar members")
			}
			if data, err = decompressMember(ctx, strings.TrimPrefix(name, "data.tar"), body, xzPath); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, fmt.Errorf("ar member %q: %w", name, err)
		}
		if size%2 == 1 {
			if _, err := br.Discard(1); err != nil && err != io.EOF {
				return nil, err
			}
		}
	}
	if !sawBinary {
		return nil, errors.New("no debian-binary member")
	}
	if data == nil {
		return nil, errors.New("no data.tar member")
	}
	return data, nil
}

func decompressMember(ctx context.Context, ext string, r io.Reader, xzPath string) ([]byte, error) {
	if ext == ".xz" && xzPath != "" {
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, xzPath, "--decompress", "--stdout", "--single-stream")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s: %v: %s", xzPath, err, bytes.TrimSpace(stderr.Bytes()))
		}
		if out.Len() > maxDataTar {
			return nil, fmt.Errorf("larger than %d bytes uncompressed", maxDataTar)
		}
		return out.Bytes(), nil
	}
	var dr io.Reader
	switch ext {
	case "":
		dr = r
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		dr = z
	case ".xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		dr = z
	case ".zst":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer z.Close()
		dr = z
	default:
		return nil, fmt.Errorf("unsupported compression %q", ext)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(dr, maxDataTar+1))
	if err != nil {
		return nil, err
	}
	if n > maxDataTar {
		return nil, fmt.Errorf("larger than %d bytes uncompressed", maxDataTar)
	}
	return buf.Bytes(), nil
}
