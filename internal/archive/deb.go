package archive

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// debData reads the ar archive of a .deb from r and returns a reader over its
// data.tar.* member (positioned at its start) and that member's format.
func debData(r io.Reader, name string) (io.Reader, Format, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, "", fmt.Errorf("%s: not an ar archive (.deb)", name)
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, "", fmt.Errorf("%s: .deb has no data.tar member", name)
			}
			return nil, "", fmt.Errorf("%s: reading ar header: %v", name, err)
		}
		if hdr[58] != '`' || hdr[59] != '\n' {
			return nil, "", fmt.Errorf("%s: corrupt ar header", name)
		}
		member := strings.TrimRight(string(hdr[0:16]), " ")
		member = strings.TrimSuffix(member, "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("%s: ar member %q: bad size", name, member)
		}
		if strings.HasPrefix(member, "data.tar") {
			body := io.LimitReader(r, size)
			// Detect the compression from magic bytes, not the member name.
			head := make([]byte, 512)
			n, _ := io.ReadFull(body, head)
			f, err := detect(name+":"+member, head[:n])
			if err != nil {
				return nil, "", err
			}
			switch f {
			case TarGz, TarBz2, TarXz, TarZst, Tar:
			default:
				return nil, "", fmt.Errorf("%s: member %s is %s, not a tar", name, member, f)
			}
			return io.MultiReader(bytes.NewReader(head[:n]), body), f, nil
		}
		skip := size + size%2 // members are 2-byte aligned
		if _, err := io.CopyN(io.Discard, r, skip); err != nil {
			return nil, "", fmt.Errorf("%s: ar member %q: %v", name, member, err)
		}
	}
}
