// Package toolchains owns toolchain roots: root file systems composed from
// pinned Debian packages.
//
// It reads a Debian archive index (Release + Packages, over HTTP(S) or from
// local apt lists), resolves the dependency closure of a package request
// (Depends, Pre-Depends, alternatives, virtual packages, multiarch), and
// composes the resolved .debs into a root without running maintainer
// scripts, making the merged-/usr links and the few links those scripts
// would have made.
//
// Invariants: resolution output is sorted by (name, arch) and depends only on
// the index and the request; the same package set composes to the same tree
// (same Digest); a composed root never has a file written outside its
// directory, whatever paths or symlinks a .deb carries.
package toolchains
