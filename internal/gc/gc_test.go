package gc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func put(t *testing.T, st *store.Store, content string) string {
	t.Helper()
	h := sha256.Sum256([]byte(content))
	sha := hex.EncodeToString(h[:])
	if err := st.Put(context.Background(), bytes.NewReader([]byte(content)), sha, int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return sha
}

// project is one project directory on the shared store: a lock pinning a
// source, an extension and a one-package toolchain, and one built cell.
type project struct {
	lockPath, source, ext, deb, pkg, manifest, action, root string
}

func newProject(t *testing.T, st *store.Store, name string) project {
	p := project{lockPath: filepath.Join(t.TempDir(), name, "monogres.lock")}
	p.source = put(t, st, name+" postgres source")
	p.ext = put(t, st, name+" extension source")
	p.deb = put(t, st, name+" gcc .deb")
	l := &lock.Lock{Version: lock.FormatVersion, Manifest: "sha256:" + p.source, Inputs: []lock.Input{
		{Name: "deb/amd64/gcc-" + name, Kind: lock.KindDeb, Version: "1", Arch: "amd64", Roots: []string{"amd64"}, URLs: []string{"https://deb.example/" + name + ".deb"}, SHA256: p.deb, Size: int64(len(name + " gcc .deb"))},
		{Name: "extension/" + name + "/1.0", Kind: lock.KindExtension, Version: "1.0", URLs: []string{"https://x.example/" + name + ".tgz"}, SHA256: p.ext, Size: int64(len(name + " extension source"))},
		{Name: "postgres/15", Kind: lock.KindPostgres, Version: "15.18", URLs: []string{"https://x.example/pg-" + name + ".tgz"}, SHA256: p.source, Size: int64(len(name + " postgres source"))},
	}}
	b, err := lock.Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(p.lockPath), 0o755)
	if err := os.WriteFile(p.lockPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Its toolchain root, as ComposeCached leaves it.
	pkgs := toolchains.FromLock(l).Layers["amd64"]
	p.root = toolchains.Key(pkgs, toolchains.DefaultOptions)
	makeRoot(t, st, p.root, pkgs)
	// One built cell in the action cache.
	p.action, p.pkg, p.manifest = fmt.Sprintf("%064x", len(name)*7919), put(t, st, name+" package"), put(t, st, name+" package manifest")
	recordAction(t, st, name+"~cell", p.action, p.pkg, p.manifest)
	if err := st.Register(p.lockPath, map[string]string{name + "~cell": p.action}); err != nil {
		t.Fatal(err)
	}
	return p
}

// makeRoot lays out roots/<key> as ComposeCached leaves it: the tree, its
// package list and its digest.
func makeRoot(t *testing.T, st *store.Store, key string, pkgs []toolchains.Package) {
	t.Helper()
	dir := filepath.Join(st.RootsDir(), key)
	os.MkdirAll(filepath.Join(dir, "root", "usr", "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "root", "usr", "bin", "gcc"), []byte("gcc"), 0o755)
	var list strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&list, "%s %s %s %s\n", p.Name, p.Arch, p.Version, p.SHA256)
	}
	os.WriteFile(filepath.Join(dir, "packages"), []byte(list.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "digest"), []byte(key+"\n"), 0o644)
}

func recordAction(t *testing.T, st *store.Store, cell, key, pkg, man string) {
	t.Helper()
	log := build.LogPath(st, key)
	os.MkdirAll(filepath.Dir(log), 0o755)
	os.WriteFile(log, []byte("build log of "+cell), 0o644)
	if err := build.Record(st, build.ACEntry{Cell: cell, ActionKey: key, Package: pkg, Manifest: man, Log: log}); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// Issue 10 finding 5: `store gc` kept only the current directory's lock
// inputs, so in a store shared by two projects it deleted the other's
// inputs and every built package. Both projects are GC roots now.
func TestGCTwoProjectsOneStore(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := newProject(t, st, "alpha"), newProject(t, st, "beta")
	// Garbage: a blob nobody pins, an action nobody recorded (with its
	// package), and a root of a toolchain no lock has any more.
	junk := put(t, st, "old download")
	oldPkg := put(t, st, "old package")
	oldAction := fmt.Sprintf("%064x", 42)
	recordAction(t, st, "old~cell", oldAction, oldPkg, oldPkg)
	// Verify logs and records follow their entry: kept with a's, gone with
	// the old one (before, a kept entry's verify log was collected and a
	// collected entry's verified record stayed).
	os.MkdirAll(filepath.Join(st.ACDir(), "verified"), 0o755)
	for _, k := range []string{a.action, oldAction} {
		os.WriteFile(verifyLog(st, k), []byte("verify\n"), 0o644)
		os.WriteFile(filepath.Join(st.ACDir(), "verified", k), []byte("x\n"), 0o644)
	}
	stalePkgs := []toolchains.Package{{Name: "gcc-11", Version: "11", Arch: "amd64", SHA256: fmt.Sprintf("%064x", 44)}}
	staleKey := toolchains.Key(stalePkgs, toolchains.DefaultOptions)
	makeRoot(t, st, staleKey, stalePkgs)
	staleRoot := filepath.Join(st.RootsDir(), staleKey)
	os.WriteFile(filepath.Join(staleRoot, "root", "usr", "big"), make([]byte, 1<<20), 0o644)

	// --dry-run lists what would go, with the bytes, and removes nothing.
	before, _ := st.List()
	dry, err := Run(st, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Blobs, sorted(junk, oldPkg)) || !slices.Equal(dry.Actions, []string{oldAction}) || len(dry.Roots) != 1 || dry.Bytes < 1<<20 {
		t.Fatalf("dry run: %+v", dry)
	}
	if after, _ := st.List(); !slices.Equal(before, after) || !exists(staleRoot) {
		t.Fatal("dry run removed something")
	}

	rep, err := Run(st, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gc: %+v", rep)
	for _, p := range []project{a, b} {
		for what, sha := range map[string]string{"source": p.source, "extension": p.ext, "toolchain .deb": p.deb, "package": p.pkg, "package manifest": p.manifest} {
			if !st.Has(sha) {
				t.Errorf("%s: its %s was collected", p.lockPath, what)
			}
		}
		if hit, ok, _ := build.Lookup(st, p.action); !ok || hit.Package != p.pkg {
			t.Errorf("%s: its action-cache entry was collected", p.lockPath)
		}
		if !exists(build.LogPath(st, p.action)) || !exists(filepath.Join(st.RootsDir(), p.root)) {
			t.Errorf("%s: its build log or toolchain root was collected", p.lockPath)
		}
	}
	if st.Has(junk) || st.Has(oldPkg) || exists(staleRoot) || exists(build.LogPath(st, oldAction)) {
		t.Error("garbage survived")
	}
	if !exists(verifyLog(st, a.action)) || !exists(filepath.Join(st.ACDir(), "verified", a.action)) {
		t.Error("a kept entry's verify log or verified record was collected")
	}
	if exists(verifyLog(st, oldAction)) || exists(filepath.Join(st.ACDir(), "verified", oldAction)) {
		t.Error("a collected entry's verify log or verified record survived")
	}
	if _, ok, _ := build.Lookup(st, oldAction); ok {
		t.Error("the unrecorded action-cache entry survived")
	}

	// Once beta's lock is gone, its registration is dead: the next gc
	// reclaims beta's data and keeps alpha's.
	os.RemoveAll(filepath.Dir(b.lockPath))
	rep, err = Run(st, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Dead, []string{b.lockPath}) || !slices.Equal(rep.Live, []string{a.lockPath}) {
		t.Fatalf("live %v dead %v", rep.Live, rep.Dead)
	}
	if st.Has(b.ext) || st.Has(b.pkg) || exists(filepath.Join(st.RootsDir(), b.root)) {
		t.Error("a dead project's data survived")
	}
	if !st.Has(a.ext) || !st.Has(a.pkg) || !exists(filepath.Join(st.RootsDir(), a.root)) {
		t.Error("the live project's data was collected")
	}
	if regs, _ := st.Registrations(); len(regs) != 1 || regs[0].Lock != a.lockPath {
		t.Errorf("registrations: %+v", regs)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// A live lock that cannot be read stops gc before anything is removed.
func TestGCUnreadableLockRemovesNothing(t *testing.T) {
	st, _ := store.Open(t.TempDir())
	p := newProject(t, st, "alpha")
	junk := put(t, st, "junk")
	os.WriteFile(p.lockPath, []byte("not a lock"), 0o644)
	if _, err := Run(st, false); err == nil {
		t.Fatal("gc ran over an unreadable lock")
	}
	if !st.Has(junk) || !st.Has(p.pkg) {
		t.Error("gc removed data although a lock could not be read")
	}
}
