package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/toolchains"
)

// TestEvidenceRealCells is issue 15's evidence on real packages, through
// the CLI: postgres~15.18~barebones~amd64 (the shared test store's, built
// by an earlier package's tests; SharedPostgres is then a cache hit) and
// numeral 1.3 built on it. Each SBOM parses with the SPDX library and lists
// the source and every .deb of the cell's root in the lock; each
// provenance verifies with the builder's public key and names the
// package's sha256; a tampered package fails `attest verify`; `verify`
// writes a VSA that verifies. `export oci` twice gives the same digests,
// skopeo reads the layout, and the Postgres image unpacked by umoci runs
// initdb and a query in the sandbox as its user 999. `export deb` twice
// gives the same bytes, dpkg-deb reads them, and installed with `dpkg
// --root` the package runs `postgres --version`.
func TestEvidenceRealCells(t *testing.T) {
	testenv.RequireRoot(t, "builds in namespaces")
	if testing.Short() {
		t.Skip("builds an extension against the real 15.18 barebones cell; not in -short")
	}
	pgCell := buildtest.Postgres1518("barebones", "amd64")
	buildtest.SharedPostgres(t, t.TempDir(), pgCell)
	cfg := t.TempDir()
	t.Setenv("MONOGRES_STORE", e2eStore())
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv(keys.TrustedKeysEnv, "")
	t.Setenv("MONOGRES_SIGNING_KEY", "")
	dir := e2eProject(t)
	manifest := filepath.Join(dir, "monogres.toml")
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(context.Background(), append([]string{"--manifest", manifest}, args...), strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	pg, num := pgCell.Name, "numeral~1.3~postgres~15.18~barebones~amd64"
	out := t.TempDir()
	if code, o := run("build", "--out", out, pg, num); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, o)
	}
	pub := filepath.Join(cfg, "monogres", "builder.pub")
	_, l := e2eReadLock(t, dir)
	roots := toolchains.FromLock(l)
	numCell := pgCell
	numCell.Extension = &build.Extension{Name: "numeral"}
	for cell, bc := range map[string]build.Cell{pg: pgCell, num: numCell} {
		pkg := filepath.Join(out, cell+".tar.zst")
		b, err := os.ReadFile(pkg)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sha := hex.EncodeToString(sum[:])

		// The SBOM: the source and every .deb of the root.
		sb, err := os.ReadFile(filepath.Join(out, cell+".spdx.json"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := spdxjson.Read(bytes.NewReader(sb))
		if err != nil {
			t.Fatalf("%s: the SPDX library cannot read the SBOM: %v", cell, err)
		}
		bySum := map[string]string{}
		for _, q := range doc.Packages {
			for _, c := range q.PackageChecksums {
				bySum[c.Value] = q.PackageName
			}
		}
		debs, err := roots.Packages(build.RootCell(bc))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range debs {
			if bySum[d.SHA256] != d.Name {
				t.Errorf("%s: SBOM lacks toolchain .deb %s %s", cell, d.Name, d.Version)
			}
		}
		src := l.Inputs[0]
		for _, in := range l.Inputs {
			if (cell == pg && in.Name == "postgres/15") || (cell == num && in.Name == "extension/numeral/1.3") {
				src = in
			}
		}
		if bySum[src.SHA256] != src.Name || bySum[sha] != cell {
			t.Errorf("%s: SBOM lacks the source %s (%s) or the package %s", cell, src.Name, src.SHA256, sha)
		}
		t.Logf("%s: SBOM of %d packages (%d toolchain .debs) and %d files", cell, len(doc.Packages), len(debs), len(doc.Files))

		// The provenance: signed by the builder key, about this package.
		prov := filepath.Join(out, cell+".intoto.jsonl")
		if code, o := run("attest", "verify", prov, pkg, "--key", pub); code != 0 || !strings.Contains(o, "sha256:"+sha) {
			t.Errorf("%s: attest verify: exit %d\n%s", cell, code, o)
		}
		if subject := statementSubject(t, prov); subject != sha {
			t.Errorf("%s: provenance subject sha256 %s, package %s", cell, subject, sha)
		}
		publicToolsCheck(t, prov, pkg, pub)
		b[len(b)/2] ^= 1
		bad := filepath.Join(t.TempDir(), cell+".tar.zst")
		os.WriteFile(bad, b, 0o644)
		if code, o := run("attest", "verify", prov, bad, "--key", pub); code != exitFail || !strings.Contains(o, "FAILED") {
			t.Errorf("%s: a tampered package verified: exit %d\n%s", cell, code, o)
		}
	}

	// verify rebuilds numeral (its parent comes from the cache) and writes
	// the verification summary.
	if code, o := run("verify", "--out", out, num); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, o)
	}
	vsa, numPkg := filepath.Join(out, num+".vsa.intoto.jsonl"), filepath.Join(out, num+".tar.zst")
	if code, o := run("attest", "verify", vsa, numPkg, "--key", pub); code != 0 || !strings.Contains(o, "verification_summary") {
		t.Errorf("attest verify of the VSA: exit %d\n%s", code, o)
	}
	if code, o := run("attest", "verify", vsa, filepath.Join(out, pg+".tar.zst"), "--key", pub); code != exitFail {
		t.Errorf("the VSA of numeral verified for the Postgres package: exit %d\n%s", code, o)
	}

	t.Run("oci", func(t *testing.T) { exportOCI(t, run, out, pg, num) })
	t.Run("deb", func(t *testing.T) { exportDeb(t, run, out, pg, num) })
}

// publicToolsCheck runs docs/attestations.md's recipe (the first sh
// block: jq, base64, sha256sum, openssl) on the provenance env of pkg with
// the public key file pub: the subject digest must be the package's and
// OpenSSL must accept the signature.
func publicToolsCheck(t *testing.T, env, pkg, pub string) {
	t.Helper()
	for _, tool := range []string{"jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s not installed: the public-tools check of docs/attestations.md is not run", tool)
			return
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "attestations.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Checking with public tools.*?```sh\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/attestations.md has no sh block under \"Checking with public tools\"")
	}
	script := regexp.MustCompile(`(?m)^(env|pkg)=.*$`).ReplaceAllString(string(m[1]), "")
	script = strings.ReplaceAll(script, "ci-1.pub", `"$pub"`)
	cmd := exec.Command("bash", "-ec", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "env="+env, "pkg="+pkg, "pub="+pub)
	o, err := cmd.CombinedOutput()
	lines := strings.Fields(string(o))
	if err != nil || !strings.Contains(string(o), "Signature Verified Successfully") || len(lines) < 2 || lines[0] != lines[1] {
		t.Errorf("docs/attestations.md's public-tools check on %s: %v\n%s", env, err, o)
	}
}

// statementSubject is the sha256 of the (first) subject of the in-toto
// statement in the DSSE envelope at path.
func statementSubject(t *testing.T, path string) string {
	b, _ := os.ReadFile(path)
	var env struct{ Payload string }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	p, _ := base64.StdEncoding.DecodeString(env.Payload)
	var s struct {
		Subject []struct{ Digest map[string]string }
	}
	if err := json.Unmarshal(p, &s); err != nil || len(s.Subject) == 0 {
		t.Fatalf("%s: %v %s", path, err, p)
	}
	return s.Subject[0].Digest["sha256"]
}

func exportOCI(t *testing.T, run func(...string) (int, string), from, pg, num string) {
	for _, tool := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/apt-packages.txt has it)", tool)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	_, oa := run("export", "oci", "--from", from, "--out", a, pg, num)
	code, ob := run("export", "oci", "--from", from, "--out", b, pg, num)
	digests := regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	if code != 0 || len(digests.FindAllString(oa, -1)) != 2 || strings.ReplaceAll(oa, a, "") != strings.ReplaceAll(ob, b, "") {
		t.Fatalf("two exports differ (exit %d):\n%s\n%s", code, oa, ob)
	}
	t.Logf("export oci:\n%s", oa)
	ref := strings.ReplaceAll(pg, "~", "_")
	insp, err := exec.Command("skopeo", "inspect", "oci:"+a+":"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, insp)
	}
	var info struct{ Digest string }
	json.Unmarshal(insp, &info)
	if info.Digest == "" || !strings.Contains(oa, info.Digest) {
		t.Errorf("skopeo inspect digest %q, export printed:\n%s", info.Digest, oa)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if o, err := exec.Command("umoci", "unpack", "--image", a+":"+ref, bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, o)
	}
	script := `set -e
initdb -D "$PGDATA" -U postgres --no-sync >/dev/null
pg_ctl -D "$PGDATA" -o "-k /tmp -c listen_addresses=''" -w -l /tmp/log start >/dev/null
psql -h /tmp -U postgres -Atc "select 'answer ' || 6*7, current_user, version()"
pg_ctl -D "$PGDATA" -w stop >/dev/null`
	var o bytes.Buffer
	err = sandbox.Run(context.Background(), sandbox.Spec{
		Root: filepath.Join(bundle, "rootfs"), UID: 999, GID: 999,
		Mounts: []sandbox.Mount{{Kind: sandbox.KindTmpfs, Target: "/var/lib/postgresql", Mode: 0o777}},
		Argv:   []string{"/bin/sh", "-c", script},
		Env:    []string{"PATH=/usr/local/pgsql/bin:/usr/bin:/bin", "PGDATA=/var/lib/postgresql/data", "LANG=C.UTF-8", "HOME=/var/lib/postgresql"},
		Stdout: &o, Stderr: &o,
	})
	if err != nil || !strings.Contains(o.String(), "answer 42|postgres|PostgreSQL 15.18") {
		t.Fatalf("initdb and a query in the unpacked image: %v\n%s", err, o.String())
	}
	t.Logf("in the image: %s", strings.TrimSpace(o.String()))
}

func exportDeb(t *testing.T, run func(...string) (int, string), from, pg, num string) {
	for _, tool := range []string{"dpkg-deb", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	if code, o := run("export", "deb", "--from", from, "--out", a, pg, num); code != 0 {
		t.Fatalf("export deb: exit %d\n%s", code, o)
	}
	if code, o := run("export", "deb", "--from", from, "--out", b, pg, num); code != 0 {
		t.Fatalf("export deb: exit %d\n%s", code, o)
	}
	pgDeb := "monogres-postgres-15.18-barebones_15.18_amd64.deb"
	numDeb := "monogres-numeral-1.3-postgres-15.18-barebones_1.3_amd64.deb"
	for _, f := range []string{pgDeb, numDeb} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Fatalf("%s: two exports differ (%v, %v)", f, err1, err2)
		}
	}
	info, err := exec.Command("dpkg-deb", "--info", filepath.Join(a, numDeb)).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "Depends: libc6 (>= 2.36), monogres-postgres-15.18-barebones") {
		t.Errorf("dpkg-deb --info %s: %v\n%s", numDeb, err, info)
	}
	contents, err := exec.Command("dpkg-deb", "--contents", filepath.Join(a, pgDeb)).CombinedOutput()
	if err != nil || !strings.Contains(string(contents), "./opt/monogres/postgres-15.18-barebones/bin/postgres") {
		t.Errorf("dpkg-deb --contents %s: %v", pgDeb, err)
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	// --force-depends: the throwaway root has no libc6 package; the host's
	// C library runs the program.
	if o, err := exec.Command("dpkg", "--root="+root, "--force-depends", "--log=/dev/null", "-i", filepath.Join(a, pgDeb), filepath.Join(a, numDeb)).CombinedOutput(); err != nil {
		t.Fatalf("dpkg --root -i: %v\n%s", err, o)
	}
	prefix := filepath.Join(root, "opt/monogres/postgres-15.18-barebones")
	v, err := exec.Command(filepath.Join(prefix, "bin/postgres"), "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(v)) != "postgres (PostgreSQL) 15.18" {
		t.Errorf("postgres --version: %v %s", err, v)
	}
	if _, err := os.Stat(filepath.Join(prefix, "share/extension/numeral.control")); err != nil {
		t.Errorf("numeral is not installed in its Postgres prefix: %v", err)
	}
}
