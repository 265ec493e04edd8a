package plugins

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/monogres/monogres/plugins/sdk"
)

// TestBuiltinKinds: the configure, cmake and make recipes' commands per
// arch, and the file each needs.
func TestBuiltinKinds(t *testing.T) {
	req := func(arch string) sdk.Request {
		return sdk.Request{Extension: sdk.Extension{Name: "x", Version: "1"}, Arch: arch,
			Paths: sdk.Paths{Source: "/build/src", Out: "/build/out", PGConfig: "/build/pg/bin/pg_config", Prefix: "/build/pg"}}
	}
	tree := fstest.MapFS{"configure": {Data: []byte("#!/bin/sh\n"), Mode: 0o755}, "CMakeLists.txt": {}, "Makefile": {}}
	for _, tc := range []struct {
		name string
		r    Recipe
		arch string
		want []string
	}{
		{"configure", Configure{Args: []string{"--without-raster"}}, "arm64", []string{
			"./configure --with-pgconfig=/build/pg/bin/pg_config --build=x86_64-linux-gnu --host=aarch64-linux-gnu --without-raster",
			"make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc",
			"make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc install DESTDIR=/build/out"}},
		{"cmake", CMake{Args: []string{"-DBUILD_TESTING=OFF"}}, "amd64", []string{
			"cmake -S /build/src -B /build/work/cmake -DCMAKE_BUILD_TYPE=Release -DPOSTGRESQL_PG_CONFIG=/build/pg/bin/pg_config -DPG_CONFIG=/build/pg/bin/pg_config -DCMAKE_INSTALL_RPATH=$ORIGIN/../lib -DCMAKE_SKIP_BUILD_RPATH=ON -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=OFF -DBUILD_TESTING=OFF",
			"cmake --build /build/work/cmake",
			"cmake --install /build/work/cmake"}},
		{"cmake arm64", CMake{}, "arm64", []string{
			"cmake -S /build/src -B /build/work/cmake -DCMAKE_BUILD_TYPE=Release -DPOSTGRESQL_PG_CONFIG=/build/pg/bin/pg_config -DPG_CONFIG=/build/pg/bin/pg_config -DCMAKE_INSTALL_RPATH=$ORIGIN/../lib -DCMAKE_SKIP_BUILD_RPATH=ON -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=OFF -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++",
			"cmake --build /build/work/cmake",
			"cmake --install /build/work/cmake"}},
		{"make", Make{}, "amd64", []string{
			"make PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib",
			"make PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib install DESTDIR=/build/out"}},
		{"make args", Make{MakeArgs: []string{"USE_PGXS=1", "OPTFLAGS="}}, "amd64", []string{ // make_args kept, even USE_PGXS=1
			"make PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib USE_PGXS=1 OPTFLAGS=",
			"make PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib USE_PGXS=1 OPTFLAGS= install DESTDIR=/build/out"}},
	} {
		p, err := tc.r.Plan(context.Background(), req(tc.arch), tree)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, c := range p.Commands {
			got = append(got, strings.Join(c.Argv, " "))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		if tc.name == "cmake" && p.Commands[2].Env["DESTDIR"] != "/build/out" {
			t.Errorf("cmake install env %v", p.Commands[2].Env)
		}
	}
	for _, r := range []Recipe{Configure{}, CMake{}, Make{}} {
		_, err := r.Plan(context.Background(), req("amd64"), fstest.MapFS{"README": {}})
		if err == nil || !strings.Contains(err.Error(), "at the root of the source tree (is strip_prefix right?") {
			t.Errorf("%T on a tree without its file: %v", r, err)
		}
	}
}
