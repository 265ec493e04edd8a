package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
)

// Cache is the engine's remote cache (build.RemoteCache) over a Client:
// signed entries, verified blobs, one warning when the cache fails.
type Cache struct {
	Client *Client
	// Trusted are the keys whose entries are used.
	Trusted *keys.Ring
	// Signer signs the entries Record uploads; nil or ReadOnly: nothing is
	// uploaded.
	Signer   *keys.PrivateKey
	ReadOnly bool
	// Limits bound blob downloads (fetch's size and time bounds) and
	// uploads (Deadline).
	Limits fetch.Limits
	// Warn receives warnings: the one that the cache is unusable, and one
	// per refused entry. Nil discards them.
	Warn func(string)

	down     atomic.Bool // reads and writes stopped
	noWrite  atomic.Bool // writes stopped (the cache refuses them)
	downOnce sync.Once
	wOnce    sync.Once
	// bad are blobs the cache served with the wrong bytes: Record
	// uploads them again instead of trusting HEAD.
	bad sync.Map

	// Stats count what happened, for reports and tests.
	Hits, Misses, Refused, Uploaded atomic.Int64
}

func (c *Cache) warn(msg string) {
	if c.Warn != nil {
		c.Warn(msg)
	}
}

// fail stops using the cache after err, warning once.
func (c *Cache) fail(err error) {
	c.down.Store(true)
	c.downOnce.Do(func() {
		c.warn(fmt.Sprintf("WARNING: remote cache %s is unusable (%v); building locally without it for the rest of this run", c.Client.URL(), err))
	})
}

// Lookup implements build.RemoteCache: GET ac/key, check the signature,
// fetch the blobs into st (hashed as written), check the manifest.
func (c *Cache) Lookup(ctx context.Context, st *store.Store, cell, key string) (build.ACEntry, bool) {
	if c.down.Load() {
		return build.ACEntry{}, false
	}
	doc, err := c.Client.GetAC(ctx, key)
	if errors.Is(err, ErrNotFound) {
		c.Misses.Add(1)
		return build.ACEntry{}, false
	}
	if err != nil {
		if ctx.Err() == nil {
			c.fail(err)
		}
		return build.ACEntry{}, false
	}
	ent, err := c.verify(ctx, st, cell, key, doc)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			c.Refused.Add(1)
			c.warn(fmt.Sprintf("WARNING: cell %s: %v; building it locally", cell, err))
		} else if ctx.Err() == nil {
			c.fail(err)
		}
		return build.ACEntry{}, false
	}
	c.Hits.Add(1)
	return ent, true
}

// Probe says, without downloading any blob, whether a lookup of action
// key of cell would find an entry signed by a trusted key (what `build
// --dry-run` reports). The blobs are checked only by a real lookup. It
// counts nothing; a refused entry is its error, a failing cache its one
// warning (as in Lookup).
func (c *Cache) Probe(ctx context.Context, cell, key string) (bool, error) {
	if c.down.Load() {
		return false, nil
	}
	doc, err := c.Client.GetAC(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		if ctx.Err() == nil {
			c.fail(err)
		}
		return false, nil
	}
	if _, err := c.open(cell, key, doc); err != nil {
		return false, err
	}
	return true, nil
}

// open checks doc's signature and that it is the entry of cell.
func (c *Cache) open(cell, key string, doc []byte) (Entry, error) {
	e, _, err := Open(key, doc, c.Trusted)
	if err == nil && e.Cell != cell {
		err = &RefusedError{Key: key, Reason: fmt.Sprintf("it is the entry of cell %s", e.Cell)}
	}
	return e, err
}

// verify opens doc and brings its blobs into st.
func (c *Cache) verify(ctx context.Context, st *store.Store, cell, key string, doc []byte) (build.ACEntry, error) {
	e, err := c.open(cell, key, doc)
	if err != nil {
		return build.ACEntry{}, err
	}
	blobs := []Digest{e.Package, e.Manifest}
	if e.Log != nil {
		blobs = append(blobs, *e.Log)
	}
	if err := c.fetch(ctx, st, blobs); err != nil {
		var mm *fetch.MismatchError
		var nf *fetch.NotFoundError
		if errors.As(err, &mm) || errors.As(err, &nf) {
			for _, d := range blobs {
				if !st.Has(d.Hash) {
					c.bad.Store(d.Hash, true)
				}
			}
			return build.ACEntry{}, &RefusedError{Key: key, Reason: "a blob the cache serves does not match the digest and size the entry names (nothing was stored): " + oneLine(err.Error())}
		}
		return build.ACEntry{}, err
	}
	b, err := os.ReadFile(st.Path(e.Manifest.Hash))
	if err != nil {
		return build.ACEntry{}, err
	}
	m, err := build.DecodeManifest("cas/"+e.Manifest.Hash, b)
	if err != nil {
		return build.ACEntry{}, &RefusedError{Key: key, Reason: err.Error()}
	}
	if m.ActionKey != key || m.Package != e.Package.Hash || m.Cell != cell {
		return build.ACEntry{}, &RefusedError{Key: key, Reason: fmt.Sprintf("its manifest is of cell %s, action %s, package %s", m.Cell, m.ActionKey, m.Package)}
	}
	ent := build.ACEntry{Cell: cell, ActionKey: key, Package: e.Package.Hash, Manifest: e.Manifest.Hash}
	if e.Log != nil {
		logPath := build.LogPath(st, key)
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err == nil && build.LinkOrCopy(st.Path(e.Log.Hash), logPath) == nil {
			ent.Log = logPath
		}
	}
	return ent, nil
}

// fetch downloads blobs into st with fetch's retries, Range resume and
// limits.
func (c *Cache) fetch(ctx context.Context, st *store.Store, blobs []Digest) error {
	ins := make([]lock.Input, len(blobs))
	for i, d := range blobs {
		ins[i] = lock.Input{Name: "cas/" + d.Hash, SHA256: d.Hash, Size: d.SizeBytes, URLs: []string{c.Client.CASURL(d.Hash)}}
	}
	f := &fetch.Fetcher{Store: st, Jobs: len(ins), HTTPClient: c.Client.HTTPClient(), Limits: c.Limits, Retries: 2, IdleTimeout: 15 * time.Second}
	return f.Fetch(ctx, ins)
}

// Record implements build.RemoteCache: upload the package, manifest and
// log (those the cache lacks, in parallel), then the signed entry.
func (c *Cache) Record(ctx context.Context, st *store.Store, ent build.ACEntry) {
	if !c.writable() {
		return
	}
	e := Entry{Cell: ent.Cell, ActionKey: ent.ActionKey}
	var err error
	if e.Package, err = digestOf(st, ent.Package); err != nil {
		c.warn(fmt.Sprintf("WARNING: cell %s: not uploaded: %v", ent.Cell, err))
		return
	}
	if e.Manifest, err = digestOf(st, ent.Manifest); err != nil {
		c.warn(fmt.Sprintf("WARNING: cell %s: not uploaded: %v", ent.Cell, err))
		return
	}
	paths := map[string]string{e.Package.Hash: st.Path(e.Package.Hash), e.Manifest.Hash: st.Path(e.Manifest.Hash)}
	sizes := map[string]int64{e.Package.Hash: e.Package.SizeBytes, e.Manifest.Hash: e.Manifest.SizeBytes}
	if ent.Log != "" {
		// The log is a plain file: put it in the CAS so it can be named.
		if sha, size, err := st.AddFile(ctx, ent.Log); err == nil || errors.Is(err, os.ErrExist) {
			e.Log = &Digest{Hash: sha, SizeBytes: size}
			paths[sha], sizes[sha] = st.Path(sha), size
		}
	}
	deadline := c.Limits.Deadline
	if deadline <= 0 {
		deadline = fetch.DefaultDeadline
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(paths))
	for sha, p := range paths {
		wg.Go(func() {
			ok, err := c.Client.HasCAS(ctx, sha)
			if _, bad := c.bad.Load(sha); bad {
				ok = false
			}
			if err != nil || !ok {
				if err == nil {
					err = c.Client.PutCAS(ctx, sha, p, sizes[sha], deadline)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
	doc, err := Sign(e, c.Signer)
	if err == nil {
		err = c.Client.PutAC(ctx, e.ActionKey, doc)
	}
	if err != nil {
		c.writeFailed(err)
		return
	}
	c.Uploaded.Add(1)
}

// Offer implements build.RemoteCache: a local hit is uploaded as Record
// does, unless the cache already has an entry for its action (whoever
// signed it: a consumer checks that).
func (c *Cache) Offer(ctx context.Context, st *store.Store, ent build.ACEntry) {
	if !c.writable() {
		return
	}
	ok, err := c.Client.HasAC(ctx, ent.ActionKey)
	if err != nil {
		if ctx.Err() == nil {
			c.fail(err)
		}
		return
	}
	if !ok {
		c.Record(ctx, st, ent)
	}
}

func (c *Cache) writable() bool {
	return !c.ReadOnly && c.Signer != nil && !c.down.Load() && !c.noWrite.Load()
}

// writeFailed stops uploads after err: a cache refusing writes (4xx) is
// still read; one that is down is not.
func (c *Cache) writeFailed(err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		c.noWrite.Store(true)
		c.wOnce.Do(func() {
			c.warn(fmt.Sprintf("WARNING: remote cache %s refuses uploads (%v); not uploading for the rest of this run", c.Client.URL(), err))
		})
		return
	}
	c.fail(err)
}

func digestOf(st *store.Store, sha string) (Digest, error) {
	size, ok := st.Size(sha)
	if !ok {
		return Digest{}, fmt.Errorf("blob %s is not in the store", sha)
	}
	return Digest{Hash: sha, SizeBytes: size}, nil
}

// oneLine joins the lines of an error message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
