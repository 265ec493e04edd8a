package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/evidence"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// TestAttestVerify runs `monogres attest verify` on a package and its
// signed provenance: trusted through --key, the manifest's trusted_keys
// and MONOGRES_TRUSTED_KEYS; refused for a tampered package, an unknown
// signer and without trusted keys.
func TestAttestVerify(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(keys.TrustedKeysEnv, "")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.WriteFile(filepath.Join(tree, "bin", "postgres"), []byte("#!/bin/sh\n"), 0o755)
	cell := "postgres~15.18~barebones~amd64"
	pkg := filepath.Join(dir, cell+".tar.zst")
	f, _ := os.Create(pkg)
	files, err := build.Pack(context.Background(), tree, 1, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.Open(filepath.Join(dir, "store"))
	sha, _, err := st.AddFile(context.Background(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	m := &build.Manifest{Format: build.ManifestFormat, Cell: cell, Package: sha, Files: files, Source: "postgres/15.18"}
	os.WriteFile(filepath.Join(dir, cell+".json"), build.EncodeManifest(m), 0o644)
	p, err := evidence.Load(cell, pkg, filepath.Join(dir, cell+".json"))
	if err != nil {
		t.Fatal(err)
	}
	p.Source = lock.Input{Name: "postgres/15.18", Kind: lock.KindPostgres, Version: "15.18", SHA256: strings.Repeat("1", 64)}
	k, _ := keys.Generate("ci")
	_, pubPath, _ := keys.WriteFiles(dir, k)
	_, prov, err := evidence.Write(context.Background(), st, p, k)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, nil, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("attest", "verify", prov, pkg, "--key", pubPath); code != 0 || !strings.Contains(out, "OK "+pkg) || !strings.Contains(out, "signed by "+k.ID()) {
		t.Fatalf("--key: exit %d\n%s", code, out)
	}
	// No trusted key: refused, saying how to trust one.
	if code, out := run("--manifest", filepath.Join(dir, "none.toml"), "attest", "verify", prov, pkg); code == 0 {
		t.Errorf("a missing --manifest was ignored: %s", out)
	}
	if code, out := run("attest", "verify", prov, pkg); code != exitFail || !strings.Contains(out, "no trusted keys") {
		t.Errorf("no trusted keys: exit %d\n%s", code, out)
	}
	mf := filepath.Join(dir, "monogres.toml")
	os.WriteFile(mf, []byte("trusted_keys = [\""+k.Public().String()+"\"]\n[postgres]\nversions = [\"15.18\"]\n"), 0o644)
	if code, out := run("--manifest", mf, "attest", "verify", prov, pkg); code != 0 {
		t.Errorf("trusted_keys: exit %d\n%s", code, out)
	}
	t.Setenv(keys.TrustedKeysEnv, pubPath)
	if code, out := run("attest", "verify", prov, pkg); code != 0 {
		t.Errorf("%s: exit %d\n%s", keys.TrustedKeysEnv, code, out)
	}
	// A tampered package fails.
	b, _ := os.ReadFile(pkg)
	b[len(b)-5] ^= 0xff
	bad := filepath.Join(dir, "tampered.tar.zst")
	os.WriteFile(bad, b, 0o644)
	if code, out := run("attest", "verify", prov, bad, "--key", pubPath); code != exitFail || !strings.Contains(out, "FAILED") || !strings.Contains(out, "the package has sha256") {
		t.Errorf("tampered package: exit %d\n%s", code, out)
	}
	// Another key of the same name is not trusted.
	other, _ := keys.Generate("ci")
	os.Mkdir(filepath.Join(dir, "other"), 0o755)
	_, otherPub, _ := keys.WriteFiles(filepath.Join(dir, "other"), other)
	if code, out := run("attest", "verify", prov, pkg, "--key", otherPub); code != exitFail || !strings.Contains(out, "(not trusted)") {
		t.Errorf("unknown signer: exit %d\n%s", code, out)
	}
	if code, out := run("attest", "verify", prov); code != exitUsage {
		t.Errorf("one argument: exit %d\n%s", code, out)
	}
}
