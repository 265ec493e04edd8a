package oci_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/export/exporttest"
	"github.com/monogres/monogres/export/oci"
)

// TestExtensionImage exports a (small) extension package twice: the same
// image digest both times; skopeo reads the layout; the image holds the
// extension's files at lib/ and share/extension/ and its attachments are
// referrers of it.
func TestExtensionImage(t *testing.T) {
	src := t.TempDir()
	cell := "pg_similarity~1.0~postgres~15.18~barebones~amd64"
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"lib/pg_similarity.so": exporttest.HostELF(t), "share/extension/pg_similarity.control": []byte("x\n")})
	sbom := filepath.Join(src, cell+".spdx.json")
	os.WriteFile(sbom, []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o644)
	c := oci.Cell{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Extension: "pg_similarity", Attach: []oci.Attachment{{Path: sbom, MediaType: "application/spdx+json"}}}
	a, b := t.TempDir(), t.TempDir()
	ia, err := oci.Write(context.Background(), a, []oci.Cell{c})
	if err != nil {
		t.Fatal(err)
	}
	ib, err := oci.Write(context.Background(), b, []oci.Cell{c})
	if err != nil {
		t.Fatal(err)
	}
	if ia[0].Digest != ib[0].Digest || !strings.HasPrefix(ia[0].Digest, "sha256:") {
		t.Fatalf("two exports: %s and %s", ia[0].Digest, ib[0].Digest)
	}
	ja, _ := os.ReadFile(filepath.Join(a, "index.json"))
	jb, _ := os.ReadFile(filepath.Join(b, "index.json"))
	if string(ja) != string(jb) {
		t.Errorf("index.json differs:\n%s\n%s", ja, jb)
	}
	var idx struct {
		Manifests []struct {
			Digest       string
			ArtifactType string
			Annotations  map[string]string
		}
	}
	json.Unmarshal(ja, &idx)
	if len(idx.Manifests) != 2 || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "pg_similarity_1.0_postgres_15.18_barebones_amd64" || idx.Manifests[1].ArtifactType != "application/spdx+json" {
		t.Errorf("index.json: %s", ja)
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed (.ci/apt-packages.txt has it)")
	}
	out, err := exec.Command("skopeo", "inspect", "oci:"+a+":"+ia[0].Ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	var insp struct {
		Digest string
		Layers []string
		Labels map[string]string
	}
	if err := json.Unmarshal(out, &insp); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if insp.Digest != ia[0].Digest || len(insp.Layers) != 1 || insp.Labels["dev.monogres.package.sha256"] != m.Package {
		t.Errorf("skopeo inspect: %s", out)
	}
	// The referrer names the image as its subject.
	out, err = exec.Command("skopeo", "inspect", "--raw", "oci:"+a+"@"+idx.Manifests[1].Digest).CombinedOutput()
	if err != nil {
		t.Logf("skopeo cannot address a manifest by digest in this version: %v\n%s", err, out)
		raw, _ := os.ReadFile(filepath.Join(a, "blobs", "sha256", strings.TrimPrefix(idx.Manifests[1].Digest, "sha256:")))
		out = raw
	}
	if !strings.Contains(string(out), `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":`) || !strings.Contains(string(out), ia[0].Digest) {
		t.Errorf("referrer manifest: %s", out)
	}
}

func TestPostgresImageNeedsBase(t *testing.T) {
	src := t.TempDir()
	cell := "postgres~15.18~barebones~amd64"
	pp, m := exporttest.Package(t, src, cell, map[string][]byte{"bin/postgres": exporttest.HostELF(t)})
	_, err := oci.Write(context.Background(), t.TempDir(), []oci.Cell{{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m}})
	if err == nil || !strings.Contains(err.Error(), "runtime base") {
		t.Errorf("no base: %v", err)
	}
	// A base without the C library: the package's libc.so.6 is missing.
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "usr/bin"), 0o755)
	_, err = oci.Write(context.Background(), t.TempDir(), []oci.Cell{{Name: cell, Arch: "amd64", PackagePath: pp, Manifest: m, Base: base}})
	if err == nil || !strings.Contains(err.Error(), "libc.so.6") {
		t.Errorf("base without libc: %v", err)
	}
}
