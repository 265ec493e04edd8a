package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// fakePackage packs a small tree the way the engine does and publishes it
// with its manifest into out, returning the Package.
func fakePackage(t *testing.T, out string) *Package { return fakePackageB(t, out) }

func fakePackageB(t testing.TB, out string) *Package {
	t.Helper()
	tree := t.TempDir()
	for p, body := range map[string]string{"bin/postgres": "#!/bin/sh\necho 15.18\n", "share/postgresql.conf.sample": "# sample\n", "lib/empty": ""} {
		full := filepath.Join(tree, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("postgres", filepath.Join(tree, "bin/postmaster"))
	cell := "postgres~15.18~barebones~amd64"
	pp := filepath.Join(out, cell+".tar.zst")
	f, err := os.Create(pp)
	if err != nil {
		t.Fatal(err)
	}
	files, err := build.Pack(context.Background(), tree, 1700000000, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	sha, _ := fileSHA256(pp)
	fi, _ := os.Stat(pp)
	m := &build.Manifest{Format: build.ManifestFormat, Cell: cell, ActionKey: strings.Repeat("a", 64), LockDigest: "sha256:" + strings.Repeat("b", 64),
		Source: "postgres/15.18", SourceSHA256: strings.Repeat("c", 64), SourceDateEpoch: 1700000000, Prefix: build.Prefix,
		Compression: build.Compression, Package: sha, Size: fi.Size(), Files: files}
	mp := filepath.Join(out, cell+".json")
	if err := os.WriteFile(mp, build.EncodeManifest(m), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(cell, pp, mp)
	if err != nil {
		t.Fatal(err)
	}
	p.Source = lock.Input{Name: "postgres/15.18", Kind: lock.KindPostgres, Version: "15.18", SHA256: strings.Repeat("c", 64),
		URLs: []string{"https://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2"}}
	p.Toolchain = []lock.Input{
		{Name: "deb/amd64/gcc-12", Kind: lock.KindDeb, Version: "12.2.0-14+deb12u1", Arch: "amd64", SHA256: strings.Repeat("d", 64), URLs: []string{"https://deb.debian.org/debian/pool/main/g/gcc-12/gcc-12_12.2.0-14+deb12u1_amd64.deb"}},
		{Name: "deb/all/debconf", Kind: lock.KindDeb, Version: "1.5.82", Arch: "all", SHA256: strings.Repeat("e", 64)},
	}
	return p
}

func newStore(t *testing.T) *store.Store {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestWriteAndVerify(t *testing.T) {
	out := t.TempDir()
	p := fakePackage(t, out)
	k, _ := keys.Generate("ci")
	st := newStore(t)
	sbomPath, provPath, err := Write(context.Background(), st, p, k)
	if err != nil {
		t.Fatal(err)
	}
	if sbomPath != filepath.Join(out, p.Cell+SBOMSuffix) || provPath != filepath.Join(out, p.Cell+ProvenanceSuffix) {
		t.Errorf("paths %s %s", sbomPath, provPath)
	}
	sbom1, _ := os.ReadFile(sbomPath)
	prov1, _ := os.ReadFile(provPath)
	// Deterministic: a second run (another store) gives the same bytes.
	if _, _, err := Write(context.Background(), newStore(t), p, k); err != nil {
		t.Fatal(err)
	}
	sbom2, _ := os.ReadFile(sbomPath)
	prov2, _ := os.ReadFile(provPath)
	if !bytes.Equal(sbom1, sbom2) || !bytes.Equal(prov1, prov2) {
		t.Error("SBOM or provenance differ between two runs")
	}
	checkSBOM(t, p, sbom1, 3)

	vs, err := Verify("prov", prov1, p.PackagePath, keys.NewRing(k.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].PredicateType != PredicateProvenance || vs[0].SHA256 != p.Manifest.Package || vs[0].KeyID != k.ID() {
		t.Fatalf("verified %+v", vs)
	}
	pred := vs[0].Statement.Predicate.AsMap()
	bd := pred["buildDefinition"].(map[string]any)
	if bd["buildType"] != BuildType || bd["externalParameters"].(map[string]any)["lockDigest"] != p.Manifest.LockDigest {
		t.Errorf("build definition %v", bd)
	}
	if n := len(bd["resolvedDependencies"].([]any)); n != 1+len(p.Toolchain) {
		t.Errorf("%d resolved dependencies, want the source and %d debs", n, len(p.Toolchain))
	}

	// Attacks: each must fail with a message saying what is wrong.
	other, _ := keys.Generate("ci")
	if _, err := Verify("prov", prov1, p.PackagePath, keys.NewRing(other.Public())); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("untrusted signer: %v", err)
	}
	if _, err := Verify("prov", prov1, p.PackagePath, keys.NewRing()); err == nil || !strings.Contains(err.Error(), "no trusted keys") {
		t.Errorf("empty ring: %v", err)
	}
	tampered := filepath.Join(t.TempDir(), "x.tar.zst")
	b, _ := os.ReadFile(p.PackagePath)
	b[len(b)/2] ^= 1
	os.WriteFile(tampered, b, 0o644)
	if _, err := Verify("prov", prov1, tampered, keys.NewRing(k.Public())); err == nil || !strings.Contains(err.Error(), "the package has sha256") {
		t.Errorf("tampered package: %v", err)
	}
	// A payload swapped for one naming the tampered package, keeping the
	// signature.
	var env map[string]any
	json.Unmarshal(prov1, &env)
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	tsha, _ := fileSHA256(tampered)
	env["payload"] = base64.StdEncoding.EncodeToString(bytes.ReplaceAll(payload, []byte(p.Manifest.Package), []byte(tsha)))
	forged, _ := json.Marshal(env)
	if _, err := Verify("prov", forged, tampered, keys.NewRing(k.Public())); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Errorf("altered payload: %v", err)
	}
	delete(env, "signatures")
	unsigned, _ := json.Marshal(env)
	if _, err := Verify("prov", unsigned, p.PackagePath, keys.NewRing(k.Public())); err == nil || !strings.Contains(err.Error(), "unsigned") {
		t.Errorf("unsigned: %v", err)
	}

	// The verification summary of a matching rebuild.
	vsaPath, err := WriteVSA(context.Background(), st, p, k, p.Manifest.Package)
	if err != nil {
		t.Fatal(err)
	}
	vb, _ := os.ReadFile(vsaPath)
	vs, err = Verify("vsa", vb, p.PackagePath, keys.NewRing(k.Public()))
	if err != nil {
		t.Fatal(err)
	}
	vp := vs[0].Statement.Predicate.AsMap()
	if vs[0].PredicateType != PredicateVSA || vp["verificationResult"] != "PASSED" || vp["policy"].(map[string]any)["uri"] != Policy {
		t.Errorf("VSA %v", vp)
	}
	if _, err := WriteVSA(context.Background(), st, p, k, strings.Repeat("f", 64)); err == nil {
		t.Error("a VSA was written for a mismatching rebuild")
	}
}

// checkSBOM parses the SBOM with the SPDX library and checks it lists the
// package's files, its source and every toolchain .deb.
func checkSBOM(t *testing.T, p *Package, b []byte, nfiles int) {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("SPDX library cannot read the SBOM: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.CreationInfo == nil {
		t.Fatalf("document header %q %q", doc.SPDXVersion, doc.DataLicense)
	}
	bySum := map[string]string{}
	for _, q := range doc.Packages {
		for _, c := range q.PackageChecksums {
			if c.Algorithm == "SHA256" {
				bySum[c.Value] = q.PackageName
			}
		}
	}
	if bySum[p.Manifest.Package] != p.Cell {
		t.Errorf("the package itself (sha256 %s) is not in the SBOM", p.Manifest.Package)
	}
	if bySum[p.Source.SHA256] != p.Source.Name {
		t.Errorf("source %s is missing", p.Source.Name)
	}
	for _, d := range p.Toolchain {
		if bySum[d.SHA256] == "" {
			t.Errorf("toolchain .deb %s is missing", d.Name)
		}
	}
	want := 0
	for _, f := range p.Manifest.Files {
		if f.Type == "file" {
			want++
		}
	}
	if want != nfiles && nfiles >= 0 {
		t.Fatalf("manifest has %d files, test expects %d", want, nfiles)
	}
	if len(doc.Files) != want {
		t.Errorf("SBOM lists %d files, the package has %d", len(doc.Files), want)
	}
	byPath := map[string]string{}
	for _, f := range doc.Files {
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				byPath[strings.TrimPrefix(f.FileName, "./")] = c.Value
			}
		}
	}
	for _, f := range p.Manifest.Files {
		if f.Type == "file" && byPath[f.Path] != f.SHA256 {
			t.Errorf("file %s: SBOM sha256 %q, manifest %s", f.Path, byPath[f.Path], f.SHA256)
		}
	}
	rels := map[string]int{}
	for _, r := range doc.Relationships {
		rels[r.Relationship]++
	}
	if rels["BUILD_TOOL_OF"] < len(p.Toolchain) || rels["GENERATED_FROM"] != 1 || rels["CONTAINS"] != want || rels["DESCRIBES"] != 1 {
		t.Errorf("relationships %v", rels)
	}
}

func TestPackageMustMatchManifest(t *testing.T) {
	out := t.TempDir()
	p := fakePackage(t, out)
	p.Manifest.Files[len(p.Manifest.Files)-1].SHA256 = strings.Repeat("0", 64)
	k, _ := keys.Generate("ci")
	if _, _, err := Write(context.Background(), newStore(t), p, k); err == nil || !strings.Contains(err.Error(), "but "+p.ManifestPath+" says") {
		t.Errorf("a package that does not match its manifest got evidence: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, p.Cell+SBOMSuffix)); err == nil {
		t.Error("an SBOM was written anyway")
	}
}

// BenchmarkWrite times the evidence of one (small) package: reading and
// hashing it, the SBOM, the provenance and its signature.
func BenchmarkWrite(b *testing.B) {
	out := b.TempDir()
	p := fakePackageB(b, out)
	k, _ := keys.Generate("bench")
	st, _ := store.Open(b.TempDir())
	for b.Loop() {
		if _, _, err := Write(context.Background(), st, p, k); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRecordedRuntime: the runtime closure CELL.json records (not its
// bundled libraries) is in the SBOM as RUNTIME_DEPENDENCY_OF, with the
// toolchain .deb's download location; without one the SBOM says so.
func TestRecordedRuntime(t *testing.T) {
	out := t.TempDir()
	p := fakePackage(t, out)
	gcc := p.Toolchain[0]
	p.Manifest.Runtime = []build.Library{
		{Soname: "libgcc_s.so.1", Package: "gcc-12", Version: gcc.Version, Arch: "amd64", SHA256: gcc.SHA256},
		{Soname: "libatomic.so.1", Package: "gcc-12", Version: gcc.Version, Arch: "amd64", SHA256: gcc.SHA256},
		{Soname: "libfoo.so.1", Package: "libfoo1", Version: "1", Arch: "amd64", SHA256: strings.Repeat("9", 64), Bundled: true},
	}
	os.WriteFile(p.ManifestPath, build.EncodeManifest(&p.Manifest), 0o644)
	q, err := Load(p.Cell, p.PackagePath, p.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Runtime) != 1 || q.Runtime[0].Name != "deb/amd64/gcc-12" || q.Runtime[0].SHA256 != gcc.SHA256 {
		t.Fatalf("runtime %+v", q.Runtime)
	}
	q.Source, q.Toolchain = p.Source, p.Toolchain
	files, err := packageFiles(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SBOM(q, files)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, r := range doc.Relationships {
		if r.Relationship == "RUNTIME_DEPENDENCY_OF" {
			deps = append(deps, string(r.RefA.ElementRefID))
		}
	}
	if len(deps) != 1 || doc.Packages[0].PackageComment != "" {
		t.Errorf("runtime dependencies %v, comment %q", deps, doc.Packages[0].PackageComment)
	}
	for _, pk := range doc.Packages {
		if string(pk.PackageSPDXIdentifier) == deps[0] && pk.PackageDownloadLocation != gcc.URLs[0] {
			t.Errorf("runtime dependency %s at %s, want %s", pk.PackageName, pk.PackageDownloadLocation, gcc.URLs[0])
		}
	}
	if p.Runtime != nil {
		t.Errorf("a manifest without a closure gave runtime %+v", p.Runtime)
	}
}

// TestWriteMemo: a second Write of the same package (a cache hit) links
// the remembered documents without reading the package, but only while
// the package it described is in the store: without it, Write reads the
// package again and refuses one that does not match CELL.json.
func TestWriteMemo(t *testing.T) {
	out := t.TempDir()
	loaded := fakePackage(t, out)
	k, _ := keys.Generate("ci")
	st := newStore(t)
	cell := loaded.Cell
	pp, mp := filepath.Join(out, cell+".tar.zst"), filepath.Join(out, cell+".json")
	pkgSHA, _, err := st.AddFile(context.Background(), pp)
	if err != nil {
		t.Fatal(err)
	}
	write := func() ([]byte, error) {
		p, err := Peek(cell, pp, mp, "")
		if err != nil {
			t.Fatal(err)
		}
		p.Source, p.Toolchain = loaded.Source, loaded.Toolchain // as the build's attester sets them
		_, provPath, err := Write(context.Background(), st, p, k)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(provPath)
	}
	prov1, err := write()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(pp) // the published package is a link; break it
	if err := os.WriteFile(pp, []byte("not the package"), 0o644); err != nil {
		t.Fatal(err)
	}
	prov2, err := write()
	if err != nil {
		t.Fatalf("second Write did not use its memo: %v", err)
	}
	if !bytes.Equal(prov1, prov2) {
		t.Error("the memo gave other provenance")
	}
	if err := os.Remove(st.Path(pkgSHA)); err != nil {
		t.Fatal(err)
	}
	if _, err := write(); err == nil {
		t.Error("Write republished evidence for a package the store no longer holds, without reading it")
	}
}
