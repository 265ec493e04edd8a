#!/usr/bin/env bash
# Benchmark: `monogres build postgres~15.18~barebones~amd64` (cold action
# cache, warm toolchain root) against a plain host configure / make -j2 /
# make install of the same tarball, in one run on one machine. Prints
# host-s, monogres-s and ratio (target <= 1.10). Needs root, gcc and make on
# the host, and about 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
MONOGRES_BENCH_BUILD=1 go test ./build/ -run '^$' -bench 'BenchmarkBarebonesVsHost' -benchtime 1x -timeout 90m -v
# The same for postgres~18.6~barebones~amd64 (meson) against a host
# meson setup / ninja -j2 / ninja install (needs meson ninja-build bison flex).
MONOGRES_BENCH_BUILD=1 go test ./build/ -run '^$' -bench 'BenchmarkMesonVsHost' -benchtime 1x -timeout 90m -v
