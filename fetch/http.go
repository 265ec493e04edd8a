package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

func (f *Fetcher) connectTimeout() time.Duration {
	if f.ConnectTimeout == 0 {
		return 30 * time.Second
	}
	return f.ConnectTimeout
}

func (f *Fetcher) idleTimeout() time.Duration {
	if f.IdleTimeout == 0 {
		return 60 * time.Second
	}
	return f.IdleTimeout
}

func (f *Fetcher) httpClient() *http.Client {
	f.clientOnce.Do(func() {
		if f.HTTPClient != nil {
			f.client = f.HTTPClient
			return
		}
		ct := f.connectTimeout()
		tr := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: ct, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   ct,
			ResponseHeaderTimeout: ct,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			// Ask for identity: the sha256 is of the bytes as served.
			DisableCompression: true,
		}
		f.client = &http.Client{
			Transport: tr,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 10 {
					return &permanentError{fmt.Errorf("stopped after 10 redirects (redirect loop?) at %s", req.URL)}
				}
				return nil
			},
		}
	})
	return f.client
}

// permanentError is a failure that retrying the same URL will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// StatusError is an HTTP response other than 200/206.
type StatusError struct {
	URL    string
	Status string
	Code   int
}

func (e *StatusError) Error() string { return "HTTP " + e.Status }

// transient reports whether err is worth retrying on the same URL.
func transient(err error) bool {
	var pe *permanentError
	var se *StatusError
	var sm *store.MismatchError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &pe), errors.As(err, &sm):
		return false
	case errors.As(err, new(*SizeError)), errors.As(err, new(*SlowError)), errors.As(err, new(*DeadlineError)):
		return false
	case errors.As(err, &se):
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests || se.Code == http.StatusRequestTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, errIdle) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "connection reset") || errors.Is(err, io.EOF)
}

var (
	errIdle     = errors.New("no data received within the idle timeout")
	errSlow     = errors.New("below the minimum transfer rate")
	errDeadline = errors.New("download deadline")
)

// fromURL downloads in from u into the store (nil on success).
func (f *Fetcher) fromURL(ctx context.Context, in lock.Input, u string, p *progress) error {
	pu, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("bad URL: %v", err)
	}
	switch pu.Scheme {
	case "http", "https":
		w, err := f.Store.Create(ctx, in.SHA256, in.Size)
		if err != nil {
			return err // fs.ErrExist: another process stored it meanwhile
		}
		defer w.Discard()
		if err := f.download(ctx, w, in.Name, in.Size, u, p); err != nil {
			var sm *store.MismatchError
			if errors.As(err, &sm) {
				w.Abort()
				return mismatch(in, u, err)
			}
			return err
		}
		if _, _, err := w.Commit(); err != nil {
			return mismatch(in, u, err)
		}
		return nil
	case "file":
		return f.fromFile(ctx, in, u)
	default:
		return errScheme(pu)
	}
}

// download GETs u into w with retries and Range resume, reporting progress
// for item. size is the expected size (0 = unknown).
func (f *Fetcher) download(ctx context.Context, w *store.Writer, item string, size int64, u string, p *progress) error {
	em := f.emitter()
	delay := f.backoff()
	var reported int64
	dl := f.Limits.deadline()
	ctx, cancel := context.WithTimeoutCause(ctx, dl, errDeadline)
	defer cancel()
	for try := 0; ; try++ {
		before := w.Offset()
		err := f.attempt(ctx, w, item, size, u, em)
		if errors.Is(context.Cause(ctx), errDeadline) {
			err = &DeadlineError{URL: u, Deadline: dl, Got: w.Offset()}
		}
		if p != nil {
			if d := w.Offset() - reported; d > 0 {
				p.add(d)
			}
			reported = w.Offset()
		}
		if err == nil {
			return nil
		}
		if !transient(err) || try >= f.retries() || ctx.Err() != nil {
			return err
		}
		em.Log(item, fmt.Sprintf("%s: %v; retrying in %v (attempt %d of %d, resuming at byte %d)", u, err, delay, try+2, f.retries()+1, w.Offset()))
		if w.Offset() > before {
			delay = f.backoff() // progress was made: no need to back off further
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errDeadline) {
				return &DeadlineError{URL: u, Deadline: dl, Got: w.Offset()}
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// attempt is one GET, resuming from w.Offset() with a Range request.
func (f *Fetcher) attempt(ctx context.Context, w *store.Writer, item string, size int64, u string, em event.Emitter) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("User-Agent", "monogres")
	off := w.Offset()
	if size > 0 && off == size {
		// A complete partial file from an earlier run: Commit checks it.
		return nil
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := f.httpClient().Do(req)
	if err != nil {
		var pe *permanentError
		if errors.As(err, &pe) {
			return pe
		}
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if off > 0 {
			em.Log(item, fmt.Sprintf("%s ignored the Range request; restarting from byte 0", u))
			if err := w.Reset(); err != nil {
				return err
			}
			off = 0
		}
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			if err := w.Reset(); err != nil {
				return err
			}
			return fmt.Errorf("server answered Range bytes=%d- with Content-Range %q; restarting", off, resp.Header.Get("Content-Range"))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := w.Reset(); err != nil {
			return err
		}
		return fmt.Errorf("server refused Range bytes=%d- (416); restarting", off)
	default:
		return &StatusError{URL: u, Status: resp.Status, Code: resp.StatusCode}
	}
	if size > 0 && resp.ContentLength >= 0 && off+resp.ContentLength != size {
		return &permanentError{fmt.Errorf("server announces %d bytes (Content-Length %d from byte %d) but monogres.lock says %d bytes", off+resp.ContentLength, resp.ContentLength, off, size)}
	}
	// An unpinned size is capped; a pinned one is its own cap (the store
	// writer refuses more).
	capped := int64(0)
	if size == 0 {
		capped = f.Limits.maxSize()
		if resp.ContentLength > capped-off {
			return &SizeError{URL: u, Max: capped, Announced: off + resp.ContentLength}
		}
	}
	total := size
	if total == 0 && resp.ContentLength >= 0 {
		total = off + resp.ContentLength
	}
	// Idle timeout: cancel the request if no byte arrives for a while.
	idle := f.idleTimeout()
	timer := time.AfterFunc(idle, func() { cancel(errIdle) })
	defer timer.Stop()
	// Minimum rate: each window must bring MinRate bytes per second, so a
	// server trickling a byte now and then is stopped.
	var got atomic.Int64
	var slow *SlowError
	if rate := f.Limits.minRate(); rate > 0 {
		win := f.Limits.rateWindow()
		var check func()
		var rt *time.Timer
		var mark int64
		check = func() {
			n := got.Load()
			if d := n - mark; d < int64(float64(rate)*win.Seconds()) {
				slow = &SlowError{URL: u, Got: d, Window: win, MinRate: rate}
				cancel(errSlow)
				return
			}
			mark = n
			rt.Reset(win)
		}
		rt = time.AfterFunc(win, check)
		defer rt.Stop()
	}
	buf := make([]byte, 256<<10)
	last := time.Now()
	em.Progress(item, "bytes", w.Offset(), total)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			timer.Reset(idle)
			got.Add(int64(n))
			if capped > 0 && w.Offset()+int64(n) > capped {
				return &SizeError{URL: u, Max: capped}
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
				last = now
				em.Progress(item, "bytes", w.Offset(), total)
			}
		}
		if rerr == io.EOF {
			em.Progress(item, "bytes", w.Offset(), total)
			return nil
		}
		if rerr != nil {
			switch cause := context.Cause(ctx); {
			case errors.Is(cause, errIdle):
				return fmt.Errorf("%w (%v)", errIdle, idle)
			case errors.Is(cause, errSlow):
				return slow
			}
			return rerr
		}
	}
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	startStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(startStr, 10, 64)
	return n, err == nil
}

// fromFile imports in from a file:// URL (see openLocal) with the locked
// check.
func (f *Fetcher) fromFile(ctx context.Context, in lock.Input, u string) error {
	file, err := f.openLocal(u, in.Size)
	if err != nil {
		return err
	}
	defer file.Close()
	return mismatch(in, u, f.Store.Put(ctx, file, in.SHA256, in.Size))
}

// openLocal opens the file a file:// URL names, refusing anything outside
// LocalDirs: the path must lie in one of them and is opened through an
// os.Root there, so neither ".." nor a symlink leads out. A relative URL
// (file://pkg/x.tar.gz) is relative to the first of LocalDirs. Unless the
// lock pins its size, the file is held to the size cap.
func (f *Fetcher) openLocal(u string, pinned int64) (*os.File, error) {
	rest, ok := strings.CutPrefix(u, "file://")
	if !ok {
		rest = strings.TrimPrefix(u, "file:")
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return nil, &permanentError{fmt.Errorf("bad file URL: %v", err)}
	}
	if len(f.LocalDirs) == 0 {
		return nil, &permanentError{errors.New("file:// URLs are refused here (no directory is allowed to be read)")}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.LocalDirs[0], p)
	}
	p = filepath.Clean(p)
	for _, dir := range f.LocalDirs {
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			continue
		}
		file, err := root.Open(rel)
		root.Close()
		if err != nil {
			return nil, &permanentError{fmt.Errorf("%s: %v (file:// URLs are read only inside %s)", p, err, strings.Join(f.LocalDirs, ", "))}
		}
		fi, err := file.Stat()
		switch {
		case err != nil:
			file.Close()
			return nil, err
		case !fi.Mode().IsRegular():
			file.Close()
			return nil, &permanentError{fmt.Errorf("%s is not a regular file (inputs are single files)", p)}
		case pinned == 0 && fi.Size() > f.Limits.maxSize():
			file.Close()
			return nil, &SizeError{URL: u, Max: f.Limits.maxSize(), Announced: fi.Size()}
		}
		return file, nil
	}
	return nil, &permanentError{fmt.Errorf("refusing to read %s: file:// URLs are read only inside %s (the manifest's directory and its distdirs)", p, strings.Join(f.LocalDirs, ", "))}
}

// errScheme refuses URL schemes other than http, https and file.
func errScheme(u *url.URL) error {
	if u.Scheme == "git" || strings.HasPrefix(u.Scheme, "git+") || strings.HasPrefix(u.String(), "git::") {
		return &permanentError{fmt.Errorf("git URLs are not supported (they would run the host's git, hooks included): pin a release tarball instead, such as the forge's archive of a commit (https://HOST/OWNER/REPO/archive/COMMIT.tar.gz)")}
	}
	return &permanentError{fmt.Errorf("unsupported URL scheme %q (http, https and file are)", u.Scheme)}
}

// HashFirst hashes (see Hash) the first of urls, through the mirror
// rewrites, that can be read, and says which one it was. The error lists
// every URL tried.
func (f *Fetcher) HashFirst(ctx context.Context, item string, urls []string) (sha string, size int64, from string, err error) {
	var errs []string
	for _, u := range f.candidates(urls) {
		sha, size, err := f.Hash(ctx, item, u)
		if err == nil {
			return sha, size, u, nil
		}
		if ctx.Err() != nil {
			return "", 0, "", ctx.Err()
		}
		errs = append(errs, err.Error())
	}
	return "", 0, "", fmt.Errorf("no URL of %s could be read:\n\t%s", item, strings.Join(errs, "\n\t"))
}

// Hash downloads rawURL (taken as given, no mirror rewrite) into the store
// without knowing its sha256 and returns the sha256 and size it has. The blob stays in the store (it is
// now named by its own hash), so a later Fetch of it is a no-op. It is what
// `monogres lock` uses for inputs the index does not know.
func (f *Fetcher) Hash(ctx context.Context, item, rawURL string) (sha string, size int64, err error) {
	if f.Offline {
		return "", 0, fmt.Errorf("hash %s: %s: offline", item, rawURL)
	}
	em := f.emitter()
	em.Started(item)
	defer func() { em.Finished(item, "", err) }()
	pu, err := url.Parse(rawURL)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: bad URL %q: %v", item, rawURL, err)
	}
	w, err := f.Store.Create(ctx, "", 0)
	if err != nil {
		return "", 0, err
	}
	defer w.Discard()
	switch pu.Scheme {
	case "http", "https":
		if err := f.download(ctx, w, item, 0, rawURL, nil); err != nil {
			return "", 0, fmt.Errorf("hash %s: %s: %w", item, rawURL, err)
		}
	case "file":
		file, err := f.openLocal(rawURL, 0)
		if err != nil {
			return "", 0, fmt.Errorf("hash %s: %s: %w", item, rawURL, err)
		}
		defer file.Close()
		max := f.Limits.maxSize()
		if n, err := store.CopyContext(ctx, w, io.LimitReader(file, max+1)); err != nil {
			return "", 0, fmt.Errorf("hash %s: %v", item, err)
		} else if n > max {
			return "", 0, fmt.Errorf("hash %s: %s: %w", item, rawURL, &SizeError{URL: rawURL, Max: max})
		}
	default:
		return "", 0, fmt.Errorf("hash %s: %s: %w", item, rawURL, errScheme(pu))
	}
	return w.Commit()
}
