package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/monogres/monogres/internal/termsafe"
	"github.com/monogres/monogres/lock"
)

// aptArtifact is a parsed lock.Input.Apt:
//
//	source:NAME=VERSION:FILE      one file of a source package
//	binary:NAME:ARCH=VERSION      a binary package (.deb)
type aptArtifact struct {
	kind, name, arch, version, file string
}

func parseApt(s string) (aptArtifact, error) {
	kind, rest, ok := strings.Cut(s, ":")
	bad := fmt.Errorf("apt artifact %q: want source:NAME=VERSION:FILE or binary:NAME:ARCH=VERSION", s)
	if !ok {
		return aptArtifact{}, bad
	}
	switch kind {
	case "source":
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return aptArtifact{}, bad
		}
		nv, file := rest[:i], rest[i+1:]
		name, version, ok := strings.Cut(nv, "=")
		if !ok || name == "" || version == "" || file == "" || strings.Contains(file, "/") {
			return aptArtifact{}, bad
		}
		return aptArtifact{kind: kind, name: name, version: version, file: file}, nil
	case "binary":
		na, version, ok := strings.Cut(rest, "=")
		if !ok {
			return aptArtifact{}, bad
		}
		name, arch, ok := strings.Cut(na, ":")
		if !ok || name == "" || arch == "" || version == "" {
			return aptArtifact{}, bad
		}
		return aptArtifact{kind: kind, name: name, arch: arch, version: version}, nil
	}
	return aptArtifact{}, bad
}

// fileName is the name apt gives the downloaded file.
func (a aptArtifact) fileName() string {
	if a.kind == "source" {
		return a.file
	}
	return a.name + "_" + strings.ReplaceAll(a.version, ":", "%3a") + "_" + a.arch + ".deb"
}

// fromApt downloads the input's Apt artifact with apt-get into a temp
// directory using the private apt configuration, then imports it with the
// locked check.
func (f *Fetcher) fromApt(ctx context.Context, in lock.Input) error {
	a, err := parseApt(in.Apt)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New("apt-get is not available on this system")
	}
	ap, err := f.privateApt(ctx)
	if err != nil {
		return err
	}
	// One apt-get at a time per store (apt's own locks are per directory,
	// and the first call may run apt-get update).
	unlock, err := ap.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	arches := []string{hostArch()}
	if a.arch != "" && a.arch != "all" && !slices.Contains(arches, a.arch) {
		arches = append(arches, a.arch)
	}
	if err := f.aptUpdate(ctx, ap, arches, false, in.Name); err != nil {
		return err
	}
	// A .deb is one file of the pinned size; a source package brings all
	// its files, bounded by the download cap.
	capBytes, pinned := f.Limits.maxSize(), a.kind == "binary" && in.Size > 0
	if pinned {
		capBytes = in.Size
	}
	path, cleanup, err := f.aptDownload(ctx, ap, a, in.Name, capBytes, pinned)
	if err != nil && !f.aptUpdatedNow(ap, arches) && !limited(err) {
		// The private lists may be older than the locked version: update
		// once and retry.
		if uerr := f.aptUpdate(ctx, ap, arches, true, in.Name); uerr != nil {
			return uerr
		}
		path, cleanup, err = f.aptDownload(ctx, ap, a, in.Name, capBytes, pinned)
	}
	if err != nil {
		return err
	}
	defer cleanup()
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	return mismatch(in, "apt "+in.Apt, f.Store.Put(ctx, file, in.SHA256, in.Size))
}

// privApt is the private apt tree under <store>/apt.
type privApt struct {
	dir     string
	sources []string // deb and deb-src lines
}

func (f *Fetcher) privateApt(ctx context.Context) (*privApt, error) {
	debs := f.AptSources
	if debs == nil {
		var err error
		debs, err = SystemAptSources("/etc/apt")
		if err != nil {
			return nil, err
		}
	}
	if len(debs) == 0 {
		return nil, errors.New("no apt sources: /etc/apt has no enabled deb entries (set Fetcher.AptSources)")
	}
	var lines []string
	for _, d := range debs {
		lines = append(lines, d)
		if rest, ok := strings.CutPrefix(d, "deb "); ok {
			lines = append(lines, "deb-src "+rest)
		}
	}
	dir := f.AptDir
	if dir == "" {
		dir = filepath.Join(f.Store.Dir(), "apt")
	}
	ap := &privApt{dir: dir, sources: lines}
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "etc/trusted.gpg.d"} {
		if err := os.MkdirAll(filepath.Join(ap.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	return ap, nil
}

func (ap *privApt) lock(ctx context.Context) (func(), error) {
	lk := flock.New(filepath.Join(ap.dir, "monogres.lock"))
	ok, err := lk.TryLockContext(ctx, 100*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("locking %s: %v", ap.dir, err)
	}
	return func() { lk.Unlock() }, nil
}

// config writes the private apt.conf and sources.list for arches and
// returns the APT_CONFIG path and a key identifying this configuration.
func (ap *privApt) config(arches []string) (string, string, error) {
	d := ap.dir
	var conf strings.Builder
	q := func(k, v string) { fmt.Fprintf(&conf, "%s %q;\n", k, v) }
	q("Dir::State", filepath.Join(d, "state"))
	q("Dir::State::Lists", filepath.Join(d, "state", "lists"))
	q("Dir::State::status", filepath.Join(d, "state", "status"))
	q("Dir::Cache", filepath.Join(d, "cache"))
	q("Dir::Cache::pkgcache", "")
	q("Dir::Cache::srcpkgcache", "")
	q("Dir::Etc::SourceList", filepath.Join(d, "etc", "sources.list"))
	q("Dir::Etc::SourceParts", filepath.Join(d, "etc", "sources.list.d"))
	q("Dir::Etc::Preferences", filepath.Join(d, "etc", "preferences"))
	q("Dir::Etc::PreferencesParts", filepath.Join(d, "etc", "preferences.d"))
	q("APT::Architecture", arches[0])
	conf.WriteString("APT::Architectures {")
	for _, a := range arches {
		fmt.Fprintf(&conf, " %q;", a)
	}
	conf.WriteString(" };\n")
	q("Acquire::Languages", "none")
	q("Acquire::Retries", "3")
	q("APT::Sandbox::User", "root")
	q("APT::Get::Only-Source", "true")
	sources := strings.Join(ap.sources, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(d, "etc", "sources.list"), []byte(sources), 0o644); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(filepath.Join(d, "state", "status")); err != nil {
		if err := os.WriteFile(filepath.Join(d, "state", "status"), nil, 0o644); err != nil {
			return "", "", err
		}
	}
	confPath := filepath.Join(d, "etc", "apt.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return "", "", err
	}
	sum := sha256.Sum256([]byte(conf.String() + sources))
	return confPath, hex.EncodeToString(sum[:]), nil
}

func (f *Fetcher) aptUpdatedNow(ap *privApt, arches []string) bool {
	_, key, err := ap.config(arches)
	if err != nil {
		return false
	}
	f.aptMu.Lock()
	defer f.aptMu.Unlock()
	return f.aptReady[key]
}

// aptUpdate runs apt-get update in the private state unless a stamp says
// this exact configuration was updated before (in any process), or force.
func (f *Fetcher) aptUpdate(ctx context.Context, ap *privApt, arches []string, force bool, item string) error {
	confPath, key, err := ap.config(arches)
	if err != nil {
		return err
	}
	stamp := filepath.Join(ap.dir, "state", "updated")
	if !force {
		if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == key {
			return nil
		}
	}
	f.emitter().Log(item, "apt-get update (private state in "+ap.dir+")")
	lists := filepath.Join(ap.dir, "state", "lists")
	if _, err := f.runApt(ctx, confPath, "", item, lists, f.Limits.maxSize(), false, "update"); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	f.aptMu.Lock()
	if f.aptReady == nil {
		f.aptReady = map[string]bool{}
	}
	f.aptReady[key] = true
	f.aptMu.Unlock()
	return os.WriteFile(stamp, []byte(key+"\n"), 0o644)
}

// aptDownload runs apt-get download/source in a fresh temp dir and returns
// the path of the artifact's file. The files apt-get writes there are
// capped at capBytes (pinned: the lock's size of the artifact).
func (f *Fetcher) aptDownload(ctx context.Context, ap *privApt, a aptArtifact, item string, capBytes int64, pinned bool) (string, func(), error) {
	arches := []string{hostArch()}
	if a.arch != "" && a.arch != "all" && a.arch != arches[0] {
		arches = append(arches, a.arch)
	}
	confPath, _, err := ap.config(arches)
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(f.Store.TmpDir(), "apt-*")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	var args []string
	if a.kind == "source" {
		args = []string{"source", "--download-only", a.name + "=" + a.version}
	} else {
		args = []string{"download", a.name + ":" + a.arch + "=" + a.version}
	}
	if _, err := f.runApt(ctx, confPath, dir, item, dir, capBytes, pinned, args...); err != nil {
		cleanup()
		if limited(err) {
			return "", nil, err // it names the command
		}
		return "", nil, fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
	}
	var path string
	if a.kind == "source" {
		path = filepath.Join(dir, a.file)
	} else {
		debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
		if len(debs) != 1 {
			cleanup()
			return "", nil, fmt.Errorf("apt-get download %s produced %d .deb files", a.name, len(debs))
		}
		path = debs[0]
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		cleanup()
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return "", nil, fmt.Errorf("apt-get did not produce %s (got: %s)", filepath.Base(path), strings.Join(names, ", "))
	}
	return path, cleanup, nil
}

// runApt runs apt-get with the private config, logging its output lines.
// The run is bounded like every download (see Limits): it is killed at the
// deadline, and when the files under watch (what it downloads) grow past
// max bytes (the size the lock pins, when pinned) or, downloading an
// artifact, below the minimum rate; the error says which.
func (f *Fetcher) runApt(ctx context.Context, confPath, dir, item, watch string, max int64, pinned bool, args ...string) (string, error) {
	what := "apt-get " + strings.Join(args, " ")
	// apt-get update may rightly write nothing for long (lists that did not
	// change, parsing): only the artifact download has a minimum rate.
	rated := args[0] != "update"
	l := f.Limits
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	full := append([]string{"-q", "-y"}, args...)
	cmd := exec.CommandContext(ctx, "apt-get", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "APT_CONFIG="+confPath, "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	// Its download methods are children: kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		winStart := start
		var winBytes int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n, alloc := diskBytes(watch)
			now := time.Now()
			switch {
			case n > max || alloc > max+1<<20:
				cancel(&SizeError{URL: what, Max: max, Pinned: pinned})
				return
			case now.Sub(start) > l.deadline():
				cancel(&DeadlineError{URL: what, Deadline: l.deadline(), Got: n})
				return
			case rated && l.minRate() > 0 && now.Sub(winStart) >= l.rateWindow():
				if got := n - winBytes; n > 0 && got < l.minRate()*int64(l.rateWindow()/time.Second) {
					cancel(&SlowError{URL: what, Got: got, Window: l.rateWindow(), MinRate: l.minRate()})
					return
				}
				winStart, winBytes = now, n
			}
		}
	}()
	err := cmd.Wait()
	cancel(nil)
	<-done
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	em := f.emitter()
	sc := bufio.NewScanner(bytes.NewReader(out.b))
	var tail []string
	for sc.Scan() {
		em.Log(item, termsafe.Escape(sc.Text()))
		tail = append(tail, termsafe.Escape(sc.Text()))
		if len(tail) > 5 {
			tail = tail[1:]
		}
	}
	if limited(err) {
		return string(out.b), err
	}
	if err != nil {
		return string(out.b), fmt.Errorf("%v: %s", err, strings.Join(tail, " | "))
	}
	return string(out.b), nil
}

// limited reports whether err is a download stopped at a limit.
func limited(err error) bool {
	return errors.As(err, new(*SizeError)) || errors.As(err, new(*DeadlineError)) || errors.As(err, new(*SlowError))
}

// diskBytes returns the total size of the files under dir, and the space
// they take (which counts a preallocated file whole).
func diskBytes(dir string) (size, alloc int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			size += fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				alloc += st.Blocks * 512
			}
		}
		return nil
	})
	return size, alloc
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// hostArch is the Debian name of the running architecture.
func hostArch() string {
	switch runtime.GOARCH {
	case "amd64", "arm64", "i386", "s390x", "riscv64", "ppc64el":
		return runtime.GOARCH
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// SystemAptSources returns the system's enabled apt sources under etcApt
// (normally /etc/apt) as one-line "deb [signed-by=...] URI SUITE COMPONENTS"
// entries: sources.list, sources.list.d/*.list and deb822
// sources.list.d/*.sources. Only deb entries are returned (the fetcher adds
// matching deb-src lines); Architectures options are dropped so the private
// configuration decides them.
func SystemAptSources(etcApt string) ([]string, error) {
	var out []string
	files := []string{filepath.Join(etcApt, "sources.list")}
	lists, _ := filepath.Glob(filepath.Join(etcApt, "sources.list.d", "*.list"))
	files = append(files, lists...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if i := strings.Index(line, "#"); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if rest, ok := strings.CutPrefix(line, "deb "); ok {
				out = append(out, "deb "+dropArchOption(rest))
			}
		}
	}
	srcs, _ := filepath.Glob(filepath.Join(etcApt, "sources.list.d", "*.sources"))
	for _, p := range srcs {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, deb822(string(b))...)
	}
	return out, nil
}

// dropArchOption removes arch= from a one-line entry's [options].
func dropArchOption(rest string) string {
	if !strings.HasPrefix(rest, "[") {
		return rest
	}
	end := strings.Index(rest, "]")
	if end < 0 {
		return rest
	}
	var keep []string
	for _, o := range strings.Fields(rest[1:end]) {
		if !strings.HasPrefix(o, "arch=") {
			keep = append(keep, o)
		}
	}
	tail := strings.TrimSpace(rest[end+1:])
	if len(keep) == 0 {
		return tail
	}
	return "[" + strings.Join(keep, " ") + "] " + tail
}

// deb822 converts the deb stanzas of a .sources file to one-line entries.
func deb822(text string) []string {
	var out []string
	for _, stanza := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n\n") {
		fields := map[string]string{}
		var last string
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				fields[last] += "\n" + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") {
			continue
		}
		if e := strings.ToLower(fields["enabled"]); e == "no" || e == "false" {
			continue
		}
		var opts []string
		if sb := fields["signed-by"]; sb != "" && !strings.Contains(sb, "\n") {
			opts = append(opts, "signed-by="+sb)
		}
		prefix := "deb "
		if len(opts) > 0 {
			prefix += "[" + strings.Join(opts, " ") + "] "
		}
		comps := strings.Join(strings.Fields(fields["components"]), " ")
		for _, uri := range strings.Fields(fields["uris"]) {
			for _, suite := range strings.Fields(fields["suites"]) {
				out = append(out, strings.TrimSpace(prefix+uri+" "+suite+" "+comps))
			}
		}
	}
	return out
}
