// Package fetch turns locked inputs into verified blobs in the store.
//
// For each input the sources are tried in order: the store itself (a stat, no
// re-hash), distdirs (local directories), the locked URLs through mirror
// rewrites, and, for Debian artifacts, the system's apt with a private
// configuration. Whatever the source, the bytes enter the store only through
// store.Writer, which checks sha256 and size before the atomic rename: every
// path ends in the same check, and nothing unverified is stored.
//
// http and https are downloaded with net/http directly (Range resume, byte
// progress, hashing while writing, retries), every download bounded by
// Limits (size cap, deadline, minimum rate). file:// URLs are read only
// inside LocalDirs, through an os.Root. Nothing else is fetched: git URLs
// would run the host's git (hooks included) and are refused.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// Mirror rewrites URLs starting with From to start with To instead.
type Mirror struct {
	From, To string
}

// Fetcher fetches locked inputs into Store. The zero values of the optional
// fields are sensible defaults. A Fetcher is safe for concurrent use.
type Fetcher struct {
	Store *store.Store
	// Mirrors are tried, in order, before each locked URL they match; the
	// locked URL itself is tried after its rewrites.
	Mirrors []Mirror
	// Distdirs are local directories searched for the input's bytes. Only a
	// few names are looked at (see distdirCandidates); directories are never
	// scanned or hashed wholesale, so big distdirs stay cheap.
	Distdirs []string
	// Jobs bounds parallel fetches; < 1 means 4.
	Jobs int
	// Offline restricts sources to the store and distdirs.
	Offline bool
	// Apt enables the apt fallback for inputs with an Apt field, where
	// apt-get exists.
	Apt bool
	// AptSources overrides the deb lines of the private apt configuration
	// (one-line format, "deb [opts] URI SUITE COMPONENTS..."); nil derives
	// them from the system's /etc/apt sources. deb-src lines are added for
	// each deb line.
	AptSources []string
	// AptDir holds the private apt configuration, lists and cache; "" =
	// <store>/apt. apt-get update runs there once per configuration.
	AptDir string
	// LocalDirs are the directories file:// URLs may read (the manifest's
	// directory and its distdirs); none = file:// is refused. A relative
	// file URL is relative to the first.
	LocalDirs []string
	// Limits bound every download; the zero value is the defaults.
	Limits Limits
	// Sink receives progress events (phase fetch, unit bytes); nil = discard.
	Sink event.Sink

	// HTTPClient is used for http and https; nil = a client with
	// ConnectTimeout and at most 10 redirects.
	HTTPClient *http.Client
	// ConnectTimeout bounds dialing and TLS handshakes and waiting for
	// response headers; 0 = 30s.
	ConnectTimeout time.Duration
	// IdleTimeout aborts a download when no byte arrives for this long (a
	// slow but moving server is fine); 0 = 60s.
	IdleTimeout time.Duration
	// Retries is how many times a transient failure (5xx, 429, timeout,
	// connection reset, truncated body) is retried per URL; 0 = 3, < 0 = none.
	Retries int
	// Backoff is the first retry delay, doubled each time; 0 = 500ms.
	Backoff time.Duration

	clientOnce sync.Once
	client     *http.Client
	aptMu      sync.Mutex
	aptReady   map[string]bool // private apt updated in this process, by config key
}

func (f *Fetcher) emitter() event.Emitter {
	s := f.Sink
	if s == nil {
		s = event.Discard
	}
	return event.Emitter{Sink: s, Phase: event.PhaseFetch}
}

func (f *Fetcher) jobs() int {
	if f.Jobs < 1 {
		return 4
	}
	return f.Jobs
}

func (f *Fetcher) retries() int {
	switch {
	case f.Retries < 0:
		return 0
	case f.Retries == 0:
		return 3
	}
	return f.Retries
}

func (f *Fetcher) backoff() time.Duration {
	if f.Backoff == 0 {
		return 500 * time.Millisecond
	}
	return f.Backoff
}

// progress tracks overall bytes for the whole-run events (Item "").
type progress struct {
	em          event.Emitter
	done, total atomic.Int64
	mu          sync.Mutex
	last        time.Time
}

func (p *progress) add(n int64) {
	d := p.done.Add(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.em.Progress("", "bytes", d, p.total.Load())
	}
}

// Fetch makes every input present in the store, at most Jobs at a time. It
// fetches as much as it can and returns the errors of all failed inputs
// joined (each names its input); a checksum mismatch is a *MismatchError.
func (f *Fetcher) Fetch(ctx context.Context, inputs []lock.Input) error {
	if f.Store == nil {
		return errors.New("fetch: no store")
	}
	em := f.emitter()
	// Fast path: a stat per input, no goroutines, for what is present.
	var todo []lock.Input
	var errs []error
	for _, in := range inputs {
		if size, err := f.present(in); err != nil {
			em.Log(in.Name, "WARNING: "+err.Error()+"; fetching it again")
		} else if size >= 0 {
			if in.Size > 0 && size != in.Size {
				errs = append(errs, fmt.Errorf("fetch %s: the store holds sha256 %s with %d bytes but monogres.lock says %d bytes; the lock is inconsistent, run `monogres lock --update %s`", in.Name, in.SHA256, size, in.Size, in.Name))
				continue
			}
			em.Finished(in.Name, event.StateCached, nil)
			continue
		}
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		return errors.Join(errs...)
	}
	p := &progress{em: em}
	for _, in := range todo {
		p.total.Add(in.Size)
	}
	em.Progress("", "bytes", 0, p.total.Load())
	sem := make(chan struct{}, f.jobs())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f.fetchOne(ctx, in, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	em.Progress("", "bytes", p.done.Load(), p.total.Load())
	return errors.Join(errs...)
}

// present returns the size of in's checked store entry, or -1 if the store
// lacks it. A damaged entry (corrupt, truncated, a symlink) has been evicted
// and is reported as the error: store damage, repaired by fetching again.
func (f *Fetcher) present(in lock.Input) (int64, error) {
	size, err := f.Store.Stat(in.SHA256)
	var de *store.DamageError
	switch {
	case errors.As(err, &de):
		return -1, err
	case err != nil:
		return -1, nil
	}
	return size, nil
}

// attempt records why one source did not yield the input.
type attempt struct {
	source string
	err    error
}

// NotFoundError says no source yielded the input; Attempts lists each try.
type NotFoundError struct {
	Input    string
	Offline  bool
	Attempts []string
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fetch %s: no source has it", e.Input)
	if e.Offline {
		b.WriteString(" (offline: only the store and distdirs were tried; `monogres store add FILE` imports a local copy)")
	}
	for _, a := range e.Attempts {
		b.WriteString("\n\t" + a)
	}
	return b.String()
}

func (f *Fetcher) fetchOne(ctx context.Context, in lock.Input, p *progress) error {
	em := f.emitter()
	if !store.ValidSHA256(in.SHA256) {
		err := fmt.Errorf("fetch %s: sha256 %q is not 64 lowercase hex digits", in.Name, in.SHA256)
		em.Finished(in.Name, event.StateFailed, err)
		return err
	}
	em.Started(in.Name)
	var tries []attempt
	var mismatch *MismatchError
	done := func(source string) error {
		if mismatch != nil {
			// Another source had the right bytes; still say loudly that one
			// did not.
			em.Log(in.Name, "WARNING: "+strings.SplitN(mismatch.Error(), "\n\n", 2)[0])
		}
		em.Log(in.Name, "from "+source)
		em.Finished(in.Name, event.StateFetched, nil)
		return nil
	}
	fail := func(err error) error {
		em.Finished(in.Name, event.StateFailed, err)
		return err
	}
	try := func(source string, err error) (bool, error) {
		if err == nil || errors.Is(err, fs.ErrExist) {
			return true, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var mm *MismatchError
		if errors.As(err, &mm) && mismatch == nil {
			mismatch = mm
		}
		tries = append(tries, attempt{source, err})
		return false, nil
	}
	if f.Store.Has(in.SHA256) {
		em.Finished(in.Name, event.StateCached, nil)
		return nil
	}
	for _, dir := range f.Distdirs {
		src, err := f.fromDistdir(ctx, in, dir)
		if ok, cerr := try("distdir "+dir, err); cerr != nil {
			return fail(cerr)
		} else if ok {
			p.add(in.Size)
			return done(src)
		}
	}
	if !f.Offline {
		for _, u := range f.candidates(in.URLs) {
			err := f.fromURL(ctx, in, u, p)
			if ok, cerr := try(u, err); cerr != nil {
				return fail(cerr)
			} else if ok {
				return done(u)
			}
		}
		if f.Apt && in.Apt != "" {
			err := f.fromApt(ctx, in)
			if ok, cerr := try("apt "+in.Apt, err); cerr != nil {
				return fail(cerr)
			} else if ok {
				p.add(in.Size)
				return done("apt " + in.Apt)
			}
		}
	}
	if mismatch != nil {
		if len(tries) > 1 {
			var others []string
			for _, t := range tries {
				if t.err != error(mismatch) {
					others = append(others, t.source+": "+t.err.Error())
				}
			}
			mismatch.Others = others
		}
		return fail(mismatch)
	}
	nf := &NotFoundError{Input: in.Name, Offline: f.Offline}
	for _, t := range tries {
		nf.Attempts = append(nf.Attempts, t.source+": "+t.err.Error())
	}
	if len(tries) == 0 {
		nf.Attempts = append(nf.Attempts, "no distdirs, URLs or apt artifact to try")
	}
	return fail(nf)
}

// candidates expands urls through the mirrors: for each locked URL, its
// rewrites in mirror order, then the URL itself. Duplicates are dropped.
func (f *Fetcher) candidates(urls []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, u := range urls {
		for _, m := range f.Mirrors {
			if m.From != "" && strings.HasPrefix(u, m.From) {
				add(m.To + strings.TrimPrefix(u, m.From))
			}
		}
		add(u)
	}
	return out
}

// MismatchError is a download whose bytes differ from the lock. Its message
// follows cmd/go's "SECURITY ERROR" block. Nothing was stored.
type MismatchError struct {
	Input     string
	Source    string // URL, distdir file or apt artifact
	GotSHA256 string // "" when more bytes than the locked size arrived
	GotSize   int64
	SHA256    string // locked
	Size      int64  // locked; 0 = unknown
	Others    []string
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verifying %s: checksum mismatch\n", e.Input)
	fmt.Fprintf(&b, "\tsource:        %s\n", e.Source)
	if e.GotSHA256 == "" {
		fmt.Fprintf(&b, "\tdownloaded:    more than %d bytes\n", e.Size)
	} else {
		fmt.Fprintf(&b, "\tdownloaded:    sha256:%s (%d bytes)\n", e.GotSHA256, e.GotSize)
	}
	if e.Size > 0 {
		fmt.Fprintf(&b, "\tmonogres.lock: sha256:%s (%d bytes)\n", e.SHA256, e.Size)
	} else {
		fmt.Fprintf(&b, "\tmonogres.lock: sha256:%s\n", e.SHA256)
	}
	for _, o := range e.Others {
		fmt.Fprintf(&b, "\talso tried:    %s\n", o)
	}
	fmt.Fprintf(&b, `
SECURITY ERROR
This download does NOT match the one recorded in monogres.lock.
The bytes may have been replaced on the server or mirror (a re-rolled
release), or an attacker may have intercepted the download. Nothing was
stored.

%s
Otherwise, try another mirror or report it to the input's publisher.`, e.fix())
	return b.String()
}

// fix is the advice for a deliberate change: a plugin's pin lives in the
// manifest, so `lock --update` cannot change it.
func (e *MismatchError) fix() string {
	if name, ok := strings.CutPrefix(e.Input, "plugin/"); ok {
		return fmt.Sprintf("If you rebuilt the plugin on purpose, pin the new file in monogres.toml\n(`monogres plugin build DIR --pin %s` does it) and run `monogres lock`;\nwhile writing a plugin, use path = instead of url and sha256.", name)
	}
	return fmt.Sprintf("If you updated the input on purpose, run `monogres lock --update %s`.", e.Input)
}

// mismatch converts a store mismatch into a *MismatchError for in from source.
func mismatch(in lock.Input, source string, err error) error {
	var sm *store.MismatchError
	if !errors.As(err, &sm) {
		return err
	}
	return &MismatchError{Input: in.Name, Source: source, GotSHA256: sm.GotSHA256, GotSize: sm.GotSize, SHA256: in.SHA256, Size: in.Size}
}
