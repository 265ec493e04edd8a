package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/remote/remotetest"
)

func TestMain(m *testing.M) {
	remotetest.NetnsMain() // this binary is also the machines' network helper
	os.Exit(m.Run())
}

// e2ePatterns: the barebones 15.18 amd64 cell and the repository's three
// extensions built against it.
var e2ePatterns = []string{pgCell, "pg_similarity~1.0~" + pgCell, "numeral~1.3~" + pgCell, "pg_rational~0.0.2~" + pgCell}

const pgCell = "postgres~15.18~barebones~amd64"

// node is one machine: its own project copy, store, home and network.
type node struct {
	t                      *testing.T
	name, dir, store, home string
	bin, sock              string
	env                    []string
}

// line is one JSON line of `--json`: an event or a result.
type line struct {
	Kind, Phase, Item, State, Cell, Line string
	ActionKey                            string `json:"action_key"`
	Package                              string
	PackagePath                          string `json:"package_path"`
	Err                                  string `json:"error"`
	Cached, Remote                       bool   // --dry-run
}

type runOut struct {
	lines  []line
	stderr string
	err    error
}

func (r runOut) results() map[string]line {
	m := map[string]line{}
	for _, l := range r.lines {
		if l.Cell != "" {
			m[l.Cell] = l
		}
	}
	return m
}

// started lists the cells whose build action started (a sandbox).
func (r runOut) started() []string {
	var s []string
	for _, l := range r.lines {
		if l.Kind == "started" && l.Phase == "build" {
			s = append(s, l.Item)
		}
	}
	return s
}

// run runs monogres on the machine; onLine sees each stdout line as it comes.
func (n *node) run(onLine func(line), env []string, args ...string) runOut {
	n.t.Helper()
	cmd := remotetest.Machine(n.sock, n.bin, args...)
	cmd.Dir = n.dir
	cmd.Env = append(append(cmd.Env, n.env...), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	var r runOut
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			r.lines = append(r.lines, l)
			if onLine != nil {
				onLine(l)
			}
		}
	}
	r.err = cmd.Wait()
	r.stderr = stderr.String()
	n.t.Logf("%s: monogres %s: %v\n%s", n.name, strings.Join(args, " "), r.err, r.stderr)
	return r
}

func (n *node) build(env []string, args ...string) runOut {
	return n.run(nil, env, append([]string{"build", "--json"}, args...)...)
}

// e2eSetup builds monogres, starts nginx on a unix socket and returns a
// constructor of machines whose stores hold the cells' locked inputs (hard
// links to the test cache's copies: what `monogres fetch` would have put
// there) and nothing else; a warm one also holds the Postgres cell the
// build tests built in the shared test store (with the same action key).
func e2eSetup(t *testing.T) (string, *remotetest.Server, func(name string, warm bool) *node) {
	testenv.RequireRoot(t, "network namespaces and the build sandbox")
	repo, _ := filepath.Abs("..")
	bin := filepath.Join(t.TempDir(), "monogres")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(repo, "cmd", "monogres")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "cache.sock")
	srv := remotetest.Nginx(t, remotetest.Options{Socket: sock})
	project := func(dir string) {
		for _, f := range []string{"monogres.toml", "monogres.lock", "monogres.catalog.json"} {
			copyFile(t, filepath.Join(repo, f), filepath.Join(dir, f))
		}
		wasm, _ := filepath.Glob(filepath.Join(repo, "plugins", "dist", "*.wasm"))
		for _, w := range wasm {
			copyFile(t, w, filepath.Join(dir, "plugins", "dist", filepath.Base(w)))
		}
	}
	// The inputs, fetched once into the test cache's store.
	seed := filepath.Join(testenv.CacheDir(t), "store")
	seedDir := filepath.Join(tmp, "seed")
	project(seedDir)
	g, err := app.New(filepath.Join(seedDir, "monogres.toml")).Graph(context.Background(), e2ePatterns, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range g.Inputs {
		names = append(names, in.Name)
	}
	fetch := exec.Command(bin, append([]string{"fetch"}, names...)...)
	fetch.Dir, fetch.Env = seedDir, append(os.Environ(), "MONOGRES_STORE="+seed)
	if out, err := fetch.CombinedOutput(); err != nil {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	// The Postgres cell, from the shared test store where the build
	// tests built it (built there now if they have not).
	pg := exec.Command(bin, "build", "--json", pgCell)
	pg.Dir, pg.Env = seedDir, append(os.Environ(), "MONOGRES_STORE="+seed)
	out, err := pg.Output()
	if err != nil {
		t.Fatalf("building %s in the shared test store: %v\n%s", pgCell, err, out)
	}
	var pgKey string
	for _, l := range bytes.Split(out, []byte("\n")) {
		var r line
		if json.Unmarshal(l, &r) == nil && r.Cell == pgCell {
			pgKey = r.ActionKey
		}
	}
	seedStore, err := store.Open(seed)
	if err != nil {
		t.Fatal(err)
	}
	pgHit, ok, err := build.Lookup(seedStore, pgKey)
	if !ok || err != nil {
		t.Fatalf("%s (action %q) is not in the shared test store: %v", pgCell, pgKey, err)
	}
	link := func(src, dst string) {
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if os.Link(src, dst) != nil { // another file system
			copyFile(t, src, dst)
		}
	}
	return bin, srv, func(name string, warm bool) *node {
		n := &node{t: t, name: name, dir: filepath.Join(tmp, name), store: filepath.Join(tmp, name+"-store"), home: filepath.Join(tmp, name+"-home"), bin: bin, sock: sock}
		project(n.dir)
		for _, in := range g.Inputs {
			link(seedStore.Path(in.SHA256), filepath.Join(n.store, "cas", in.SHA256[:2], in.SHA256))
		}
		if warm { // a builder whose store already holds the Postgres cell
			st, err := store.Open(n.store)
			if err != nil {
				t.Fatal(err)
			}
			for _, sha := range []string{pgHit.Package, pgHit.Manifest} {
				link(seedStore.Path(sha), st.Path(sha))
			}
			ent := pgHit
			ent.Log = build.LogPath(st, pgKey)
			link(pgHit.Log, ent.Log)
			if err := build.Record(st, ent); err != nil {
				t.Fatal(err)
			}
		}
		n.env = []string{"MONOGRES_STORE=" + n.store, "HOME=" + n.home, "XDG_CONFIG_HOME=" + filepath.Join(n.home, ".config"),
			"MONOGRES_REMOTE_CACHE=http://" + remotetest.CacheAddr, "MONOGRES_TRUSTED_KEYS=", "MONOGRES_SIGNING_KEY="}
		return n
	}
}

func copyFile(t *testing.T, src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDistributed is issue 14's must-show, with a real nginx and real
// builds: two builders in separate network namespaces (each reaching only
// the cache, through its loopback) build disjoint shards of the barebones
// 15.18 cell and the repository's three extensions; a third machine with
// an empty store gets every cell from the cache, with no sandbox started
// and the same package bytes, and installs Postgres into a directory where
// initdb and a query work; forged entries and blobs are refused and built
// locally; a cache stopped mid-run leaves the build succeeding. Shard 1's
// builder has the Postgres cell in its store already (the build tests
// built it in the shared test store; if they have not, setup builds it,
// ~6 min) and publishes it; shard 2 builds the extensions.
func TestDistributed(t *testing.T) {
	if testing.Short() {
		t.Skip("real builds")
	}
	bin, srv, newNode := e2eSetup(t)
	keys := t.TempDir()
	for _, k := range []string{"ci", "mallory", "d"} {
		if out, err := exec.Command(bin, "key", "generate", k, "--dir", keys).CombinedOutput(); err != nil {
			t.Fatalf("key generate: %v\n%s", err, out)
		}
	}
	key := func(n string) string { return filepath.Join(keys, n) }
	ci := []string{"MONOGRES_SIGNING_KEY=" + key("ci.key"), "MONOGRES_TRUSTED_KEYS=" + key("ci.pub")}

	// Builder a's store is warm (CI's build tests built the Postgres cell:
	// building it again here would cost ~6 min); it publishes the local
	// hit to the empty cache.
	a, b, c := newNode("a", true), newNode("b", false), newNode("c", false)
	t0 := time.Now()
	ra := a.build(ci, append([]string{"--shard", "1/2"}, e2ePatterns...)...)
	t.Logf("shard 1/2 took %v", time.Since(t0).Round(time.Second))
	if ra.err != nil || len(ra.results()) != 1 || ra.results()[pgCell].State != "cached" ||
		len(ra.started()) != 0 || !strings.Contains(ra.stderr, "0 hits, 0 misses, 0 refused, 1 uploaded") {
		t.Fatalf("shard 1/2: %v %+v", ra.err, ra.results())
	}
	t0 = time.Now()
	rb := b.build(ci, append([]string{"--shard", "2/2", "-j", "2"}, e2ePatterns...)...)
	t.Logf("shard 2/2 took %v", time.Since(t0).Round(time.Second))
	exts := []string{}
	for cell, r := range rb.results() {
		switch {
		case cell == pgCell:
			if r.State != "cached" || slices.Contains(rb.started(), pgCell) {
				t.Errorf("shard 2/2 did not take the parent from the cache: %+v", r)
			}
		case r.State != "built":
			t.Errorf("shard 2/2: %s %s %s", cell, r.State, r.Err)
		default:
			exts = append(exts, cell)
		}
	}
	slices.Sort(exts)
	if rb.err != nil || len(exts) != 3 || !strings.Contains(rb.stderr, "1 hits") {
		t.Fatalf("shard 2/2: %v, extension cells %q\n%s", rb.err, exts, rb.stderr)
	}
	built := map[string]line{pgCell: ra.results()[pgCell]}
	for _, x := range exts {
		built[x] = rb.results()[x]
	}

	// The third machine: its dry run says the Postgres cell would come
	// from the cache (an extension's key needs its parent's package)...
	dr := c.run(nil, []string{"MONOGRES_TRUSTED_KEYS=" + key("ci.pub")}, append([]string{"build", "--dry-run", "--json"}, e2ePatterns...)...)
	if p := dr.results()[pgCell]; dr.err != nil || !p.Remote || p.Cached || p.ActionKey != built[pgCell].ActionKey {
		t.Fatalf("dry run on the third machine: %v %+v", dr.err, p)
	}
	// ...and its build takes everything from the cache, nothing started.
	t0 = time.Now()
	rc := c.build([]string{"MONOGRES_TRUSTED_KEYS=" + key("ci.pub")}, e2ePatterns...)
	t.Logf("third machine: 4 cells from the cache in %v", time.Since(t0).Round(time.Millisecond))
	if rc.err != nil || len(rc.started()) != 0 || !strings.Contains(rc.stderr, "4 hits, 0 misses, 0 refused") {
		t.Fatalf("third machine: %v, started %q\n%s", rc.err, rc.started(), rc.stderr)
	}
	for cell, want := range built {
		got := rc.results()[cell]
		if got.State != "cached" || got.Package != want.Package {
			t.Errorf("third machine: %s %s package %s, built %s", cell, got.State, got.Package, want.Package)
		}
		x, _ := os.ReadFile(filepath.Join(c.dir, got.PackagePath))
		y, err := os.ReadFile(filepath.Join(map[bool]*node{true: a, false: b}[cell == pgCell].dir, want.PackagePath))
		if err != nil || len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s: out/ packages differ between the builder and the third machine (%v)", cell, err)
		}
	}

	// install: a directory where initdb and a query work.
	inst := filepath.Join(t.TempDir(), "pg")
	if r := c.run(nil, nil, "install", pgCell, inst); r.err != nil {
		t.Fatalf("install: %v\n%s", r.err, r.stderr)
	}
	checkPostgresRuns(t, inst)

	t.Run("refused", func(t *testing.T) {
		d := newNode("d", false)
		// ext[0]: its package blob replaced; ext[1]: its entry altered;
		// ext[2]: its entry's signature removed.
		pkg0 := built[exts[0]].Package
		if err := os.WriteFile(srv.Path("cas/"+pkg0), []byte("not the package"), 0o644); err != nil {
			t.Fatal(err)
		}
		alter(t, srv.Path("ac/"+built[exts[1]].ActionKey), func(env *dsse.Envelope) {
			p, _ := env.DecodeB64Payload()
			env.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte(`"cell"`), []byte(` "cell"`), 1))
		})
		alter(t, srv.Path("ac/"+built[exts[2]].ActionKey), func(env *dsse.Envelope) { env.Signatures = nil })
		// pull: the Postgres cell substituted (same bytes as the builder's
		// out/), nothing started; the unsigned extension entry refused,
		// and pull fails rather than build it.
		trustCI := []string{"MONOGRES_TRUSTED_KEYS=" + key("ci.pub")}
		rp := d.run(nil, trustCI, "pull", "--json", pgCell)
		p := rp.results()[pgCell]
		x, _ := os.ReadFile(filepath.Join(d.dir, p.PackagePath))
		y, _ := os.ReadFile(filepath.Join(a.dir, built[pgCell].PackagePath))
		if rp.err != nil || p.State != "cached" || len(rp.started()) != 0 || len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("pull %s: %v %+v (out/ package %d bytes, builder's %d)", pgCell, rp.err, p, len(x), len(y))
		}
		rx := d.run(nil, trustCI, "pull", "--json", exts[2])
		if rx.err == nil || len(rx.started()) != 0 || rx.results()[exts[2]].State != "failed" || !strings.Contains(rx.stderr, "unsigned") {
			t.Fatalf("pull of an unsigned entry: %v, started %q, %+v", rx.err, rx.started(), rx.results()[exts[2]])
		}

		dEnv := []string{"MONOGRES_SIGNING_KEY=" + key("d.key"), "MONOGRES_TRUSTED_KEYS=" + key("ci.pub") + "," + key("d.pub")}
		rd := d.build(dEnv, append([]string{"-j", "2"}, e2ePatterns...)...)
		if rd.err != nil || !strings.Contains(rd.stderr, "0 hits, 0 misses, 3 refused, 3 uploaded") {
			t.Fatalf("forged cache: %v\n%s", rd.err, rd.stderr)
		}
		for i, want := range []string{"does not match the digest and size the entry names", "it was altered", "unsigned"} {
			x := exts[i]
			if !strings.Contains(rd.stderr, "WARNING: cell "+x+": remote cache entry ac/"+built[x].ActionKey+" refused: ") || !strings.Contains(rd.stderr, want) {
				t.Errorf("%s: no refusal saying %q", x, want)
			}
			if r := rd.results()[x]; r.State != "built" || r.Package != built[x].Package {
				t.Errorf("%s: %s, package %s (builder's %s)", x, r.State, r.Package, built[x].Package)
			}
		}
		if r := rd.results()[pgCell]; r.State != "cached" {
			t.Errorf("%s: %s", pgCell, r.State)
		}

		// ext[0]'s entry is now d's: a machine trusting only mallory
		// refuses it as signed by an unknown key.
		os.Remove(filepath.Join(d.store, "ac", built[exts[0]].ActionKey+".json"))
		ru := d.build([]string{"MONOGRES_TRUSTED_KEYS=" + key("mallory.pub")}, exts[0])
		if ru.err != nil || ru.results()[exts[0]].State != "built" || !strings.Contains(ru.stderr, "(not trusted)") {
			t.Fatalf("unknown key: %v %+v\n%s", ru.err, ru.results()[exts[0]], ru.stderr)
		}

		// The cache stops while the run builds its first cell: that
		// build's upload and the next cell's lookup fail, with one
		// warning, and both cells build locally.
		for _, x := range exts[1:] {
			os.Remove(filepath.Join(d.store, "ac", built[x].ActionKey+".json"))
			os.Remove(srv.Path("ac/" + built[x].ActionKey))
		}
		stopped := false
		rs := d.run(func(l line) {
			if l.Kind == "started" && (l.Item == exts[1] || l.Item == exts[2]) && !stopped {
				stopped = true
				srv.Stop()
			}
		}, dEnv, append([]string{"build", "--json", "-j", "1"}, e2ePatterns...)...)
		if rs.err != nil || !stopped || strings.Count(rs.stderr, "WARNING: remote cache") != 1 || !strings.Contains(rs.stderr, "unusable") {
			t.Fatalf("cache stopped mid-run: %v\n%s", rs.err, rs.stderr)
		}
		for _, x := range exts[1:] {
			if r := rs.results()[x]; r.State != "built" || r.Package != built[x].Package {
				t.Errorf("cache stopped mid-run: %s %s", x, r.State)
			}
		}
	})
}

// alter rewrites a DSSE envelope file.
func alter(t *testing.T, path string, f func(*dsse.Envelope)) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	f(&env)
	b, _ = json.Marshal(env)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPostgresRuns runs initdb, starts the server and runs a query, as
// an unprivileged user (Postgres refuses root).
func checkPostgresRuns(t *testing.T, inst string) {
	t.Helper()
	work := t.TempDir()
	for _, d := range []string{work, filepath.Dir(work), filepath.Dir(inst), inst} {
		os.Chmod(d, 0o755)
	}
	os.Chown(work, 65534, 65534)
	as := func(name string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(inst, "bin", name), args...)
		cmd.Dir = work
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + work}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	data := filepath.Join(work, "data")
	if out, err := as("initdb", "-D", data, "-U", "postgres", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if out, err := as("pg_ctl", "-D", data, "-l", filepath.Join(work, "log"), "-w", "-o", fmt.Sprintf("-k %s -c listen_addresses=", work), "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	defer as("pg_ctl", "-D", data, "-m", "immediate", "stop")
	out, err := as("psql", "-h", work, "-U", "postgres", "-At", "-c", "SELECT 40 + 2, current_setting('server_version')")
	if err != nil || !strings.HasPrefix(out, "42|15.18") {
		t.Fatalf("query: %v\n%s", err, out)
	}
}

// TestMachineNetwork: a machine's network namespace reaches the cache (over
// its loopback, forwarded to nginx's unix socket) and nothing else.
func TestMachineNetwork(t *testing.T) {
	testenv.RequireRoot(t, "network namespaces")
	sock := filepath.Join(t.TempDir(), "cache.sock")
	srv := remotetest.Nginx(t, remotetest.Options{Socket: sock})
	os.MkdirAll(srv.Path("ac"), 0o755)
	os.WriteFile(srv.Path("ac/probe"), []byte("hello"), 0o644)
	out, err := remotetest.Machine(sock, "probe", remotetest.CacheAddr, "deb.debian.org:80", "151.101.2.132:80", srv.Addr).CombinedOutput()
	want := remotetest.CacheAddr + " reachable\ndeb.debian.org:80 unreachable\n151.101.2.132:80 unreachable\n" + srv.Addr + " unreachable\n"
	if err != nil || string(out) != want {
		t.Fatalf("probe: %v\n%s\nwant\n%s", err, out, want)
	}
	out, err = remotetest.Machine(sock, "/bin/sh", "-c", "grep -c : /proc/net/dev").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("interfaces in the machine's namespace: %v %q, want only lo", err, out)
	}
}
