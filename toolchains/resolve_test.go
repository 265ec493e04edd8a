package toolchains

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A synthetic two-arch index for the resolver's edge cases.
const synthetic = `Package: app
Version: 1.0
Architecture: amd64
Depends: libfoo (>= 2.0), missing-tool | sh-tool, awk-virtual, libvp (>= 3)
Filename: pool/a/app.deb
SHA256: 01
Size: 1

Package: libfoo
Version: 2.1
Architecture: amd64
Multi-Arch: same
Depends: libfoo-common (= ${binary:Version}) | libfoo-common
Filename: pool/l/libfoo_amd64.deb
SHA256: 02

Package: libfoo
Version: 2.1
Architecture: arm64
Multi-Arch: same
Depends: libfoo-common
Filename: pool/l/libfoo_arm64.deb
SHA256: 03

Package: libfoo
Version: 1.5
Architecture: amd64
Multi-Arch: same
Filename: pool/l/libfoo_old.deb
SHA256: 04

Package: libfoo-common
Version: 2.1
Architecture: all
Multi-Arch: foreign
Filename: pool/l/libfoo-common.deb
SHA256: 05

Package: sh-tool
Version: 1
Architecture: amd64
Multi-Arch: foreign
Filename: pool/s/sh-tool.deb
SHA256: 06

Package: sh-tool
Version: 1
Architecture: arm64
Multi-Arch: foreign
Filename: pool/s/sh-tool_arm64.deb
SHA256: 07

Package: zawk
Version: 1
Architecture: amd64
Priority: optional
Provides: awk-virtual
Filename: pool/z/zawk.deb
SHA256: 08

Package: mawkish
Version: 1
Architecture: amd64
Priority: required
Provides: awk-virtual
Filename: pool/m/mawkish.deb
SHA256: 09

Package: vp-impl
Version: 1
Architecture: amd64
Provides: libvp (= 3.2), libvp-old
Filename: pool/v/vp.deb
SHA256: 10

Package: libfoo-dev
Version: 2.1
Architecture: arm64
Multi-Arch: same
Depends: libfoo (= 2.1), sh-tool, libc-dev:any
Filename: pool/l/libfoo-dev_arm64.deb
SHA256: 11

Package: libc-dev-impl
Version: 1
Architecture: amd64
Multi-Arch: allowed
Provides: libc-dev
Filename: pool/l/libc.deb
SHA256: 12

Package: notsame
Version: 1
Architecture: amd64
Filename: pool/n/notsame.deb
SHA256: 13

Package: notsame
Version: 1
Architecture: arm64
Filename: pool/n/notsame_arm64.deb
SHA256: 14

Package: broken
Version: 1
Architecture: amd64
Depends: app, libfoo (>= 9)
Filename: pool/b/broken.deb
SHA256: 15
`

func TestResolveSynthetic(t *testing.T) {
	idx := indexFromStanzas(t, "amd64", synthetic)
	tests := []struct {
		name string
		req  []string
		want []string
		err  string
	}{
		{
			// versioned dep picks the newest libfoo; "missing-tool | sh-tool"
			// falls through to sh-tool; the virtual awk-virtual goes to the
			// Priority: required provider; libvp (>= 3) needs the versioned
			// Provides.
			name: "closure",
			req:  []string{"app"},
			want: []string{"app:amd64", "libfoo:amd64", "libfoo-common:all", "mawkish:amd64", "sh-tool:amd64", "vp-impl:amd64"},
		},
		{
			name: "already selected alternative wins",
			req:  []string{"zawk", "app"},
			want: []string{"app:amd64", "libfoo:amd64", "libfoo-common:all", "sh-tool:amd64", "vp-impl:amd64", "zawk:amd64"},
		},
		{
			// libfoo:arm64 co-installs with libfoo:amd64 (Multi-Arch: same);
			// sh-tool is Multi-Arch: foreign, so the native one serves the
			// arm64 package; libc-dev:any takes the allowed amd64 provider.
			name: "multiarch",
			req:  []string{"libfoo", "libfoo-dev:arm64"},
			want: []string{"libc-dev-impl:amd64", "libfoo:amd64", "libfoo:arm64", "libfoo-common:all", "libfoo-dev:arm64", "sh-tool:amd64"},
		},
		{
			name: "old version on request",
			req:  []string{"libfoo (<< 2)"},
			want: []string{"libfoo:amd64"},
		},
		{
			name: "unversioned provides does not satisfy versioned relation",
			req:  []string{"libvp-old (>= 1)"},
			err:  "request -> libvp-old (>= 1): no candidate for amd64 (index has provided by vp-impl:amd64)",
		},
		{
			name: "chain",
			req:  []string{"broken"},
			err:  "request -> broken -> libfoo (>= 9): no candidate for amd64 (index has amd64 2.1, arm64 2.1, amd64 1.5)",
		},
		{
			name: "not multi-arch same",
			req:  []string{"notsame", "notsame:arm64"},
			err:  "notsame:amd64 and notsame:arm64 cannot both be installed (not Multi-Arch: same)",
		},
		{
			name: "not in index",
			req:  []string{"nope"},
			err:  "request -> nope: no candidate (not in the index)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(idx, Request{Arch: "amd64", Packages: tt.req})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, names(got)); d != "" {
				t.Errorf("closure (-want +got):\n%s", d)
			}
		})
	}
	got, err := Resolve(idx, Request{Arch: "amd64", Packages: []string{"libfoo (<< 2)"}})
	if err != nil || got[0].Version != "1.5" || got[0].URL != "http://example.invalid/debian/pool/l/libfoo_old.deb" {
		t.Errorf("libfoo (<< 2) = %+v, %v; want version 1.5 from pool/l/libfoo_old.deb", got, err)
	}
}

func TestLockInputs(t *testing.T) {
	idx := indexFromStanzas(t, "amd64", synthetic)
	pkgs, err := Resolve(idx, Request{Arch: "amd64", Packages: []string{"libfoo-common"}})
	if err != nil {
		t.Fatal(err)
	}
	in := pkgs[0].Input()
	want := "deb/all/libfoo-common binary:libfoo-common:all=2.1 http://example.invalid/debian/pool/l/libfoo-common.deb"
	if got := in.Name + " " + in.Apt + " " + in.URLs[0]; got != want || in.Kind != "deb" {
		t.Errorf("Input() = %q (kind %q), want %q", got, in.Kind, want)
	}
	ins := idx.Inputs()
	if len(ins) != 2 || ins[1].Name != "index/test/main/binary-amd64/Packages" || ins[1].Kind != "index" {
		t.Errorf("Inputs() = %+v", ins)
	}
}
