// Package remote is monogres' shared build cache: a client for the Bazel
// HTTP cache protocol (GET/PUT/HEAD {base}/ac/{action key} and
// {base}/cas/{sha256}), so nginx with WebDAV, bazel-remote and the HTTP
// caches of BuildBuddy and similar services all serve it, and a Cache that
// the build engine asks before building a cell and tells after.
//
// Invariants:
//   - An ac document is a DSSE envelope signed with ed25519 (Entry); an
//     entry that is unsigned, signed by a key the consumer does not trust,
//     altered, or whose blobs do not hash to the digests it names is refused
//     with a clear message and the cell is built locally. Nothing unverified
//     enters the store (blobs are hashed as they are written).
//   - A cache that is down, slow or refusing never fails a build: the first
//     such failure prints one warning and the rest of the run builds locally
//     without it.
//   - Credentials come from the environment or netrc, never from the URL
//     (which may be in a manifest) and never appear in messages.
//   - Blobs are uploaded before the entry that names them.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Environment variables of the remote cache.
const (
	EnvURL      = "MONOGRES_REMOTE_CACHE"
	EnvReadOnly = "MONOGRES_REMOTE_CACHE_READ_ONLY" // "1" or "true"
	// EnvToken is sent as "Authorization: Bearer TOKEN".
	EnvToken = "MONOGRES_REMOTE_CACHE_TOKEN"
	// EnvHeader is one more header, "Name: value" (BuildBuddy's
	// "x-buildbuddy-api-key: KEY").
	EnvHeader = "MONOGRES_REMOTE_CACHE_HEADER"
)

// ErrNotFound is a 404 from the cache.
var ErrNotFound = errors.New("not in the remote cache")

// Client speaks the Bazel HTTP cache protocol to one base URL.
type Client struct {
	base    string // scheme://host[:port]/path, no userinfo, no trailing slash
	headers http.Header
	http    *http.Client
	// Timeout bounds one small request (an ac GET or PUT, a HEAD); 0 = 15s.
	Timeout time.Duration
}

// NewClient is a client of the cache at rawURL (http or https). Credentials
// come from EnvToken, EnvHeader, or the netrc file ($NETRC, else ~/.netrc)
// entry of the URL's host; a URL with a user or password is refused, so
// none ends up in a manifest or a log.
func NewClient(rawURL string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(rawURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote cache %q: want an http:// or https:// URL", redact(rawURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("remote cache %s: the URL holds credentials; put them in netrc (machine %s login USER password SECRET) or %s instead", u.Redacted(), u.Hostname(), EnvToken)
	}
	c := &Client{base: u.String(), headers: http.Header{}}
	if tok := strings.TrimSpace(os.Getenv(EnvToken)); tok != "" {
		c.headers.Set("Authorization", "Bearer "+tok)
	} else if login, pass, ok := netrc(u.Hostname()); ok {
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(login, pass)
		c.headers.Set("Authorization", req.Header.Get("Authorization"))
	}
	if h := os.Getenv(EnvHeader); h != "" {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s: want \"Name: value\"", EnvHeader)
		}
		c.headers.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // blobs are hashed as served
	}
	c.http = &http.Client{Transport: &authTransport{tr, c.headers}}
	return c, nil
}

// URL is the cache's base URL (it holds no credentials).
func (c *Client) URL() string { return c.base }

// HTTPClient is the client requests go through (with the credentials).
func (c *Client) HTTPClient() *http.Client { return c.http }

// CASURL is the URL of blob sha256.
func (c *Client) CASURL(sha string) string { return c.base + "/cas/" + sha }

func (c *Client) acURL(key string) string { return c.base + "/ac/" + key }

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 15 * time.Second
}

// authTransport adds the credential headers to every request.
type authTransport struct {
	rt      http.RoundTripper
	headers http.Header
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header[k] = v
	}
	r.Header.Set("User-Agent", "monogres")
	return t.rt.RoundTrip(r)
}

// StatusError is an HTTP status other than the one expected.
type StatusError struct {
	Method, URL, Status string
	Code                int
}

func (e *StatusError) Error() string { return e.Method + " " + e.URL + ": HTTP " + e.Status }

// GetAC reads the ac document of action key (at most maxEntry bytes).
func (c *Client) GetAC(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, c.acURL(key), nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxEntry+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.acURL(key), err)
	}
	return b, nil
}

// PutAC writes the ac document of action key.
func (c *Client) PutAC(ctx context.Context, key string, doc []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	resp, err := c.do(ctx, http.MethodPut, c.acURL(key), bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// HasCAS reports whether blob sha256 is in the cache.
func (c *Client) HasCAS(ctx context.Context, sha string) (bool, error) {
	return c.has(ctx, c.CASURL(sha))
}

// HasAC reports whether the cache has an ac document for action key.
func (c *Client) HasAC(ctx context.Context, key string) (bool, error) {
	return c.has(ctx, c.acURL(key))
}

// has is HEAD u: false on 404.
func (c *Client) has(ctx context.Context, u string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	resp, err := c.do(ctx, http.MethodHead, u, nil, 0)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

// PutCAS uploads the file at path as blob sha256 (size bytes) within
// deadline.
func (c *Client) PutCAS(ctx context.Context, sha, path string, size int64, deadline time.Duration) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPut, c.CASURL(sha), f, size)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("PUT %s: not done within %v", c.CASURL(sha), deadline)
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// do sends one request; a 404 is ErrNotFound, another status not 2xx a
// StatusError.
func (c *Client) do(ctx context.Context, method, u string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, stripURL(err))
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w", method, u, ErrNotFound)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return nil, &StatusError{Method: method, URL: u, Status: resp.Status, Code: resp.StatusCode}
	}
	return resp, nil
}

// stripURL drops the *url.Error wrapper, whose text repeats the URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// netrc returns the login and password of machine host in the netrc file
// ($NETRC, else ~/.netrc), or the default entry.
func netrc(host string) (login, password string, ok bool) {
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", false
		}
		path = filepath.Join(home, ".netrc")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", false
	}
	return parseNetrc(b, host)
}

func parseNetrc(b []byte, host string) (login, password string, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Split(bufio.ScanWords)
	var toks []string
	for sc.Scan() {
		toks = append(toks, sc.Text())
	}
	var cur string // machine of the entry being read; "*" for default
	var dl, dp string
	var dok bool
	for i := 0; i < len(toks); i++ {
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i]
			}
			return ""
		}
		switch toks[i] {
		case "machine":
			if cur == host && login != "" {
				return login, password, true
			}
			cur, login, password = next(), "", ""
		case "default":
			if cur == host && login != "" {
				return login, password, true
			}
			cur, login, password = "*", "", ""
		case "login":
			if v := next(); cur == host {
				login = v
			} else if cur == "*" {
				dl, dok = v, true
			}
		case "password":
			if v := next(); cur == host {
				password = v
			} else if cur == "*" {
				dp = v
			}
		case "macdef": // a macro runs to the end of the file here
			i = len(toks)
		}
	}
	if cur == host && login != "" {
		return login, password, true
	}
	return dl, dp, dok
}
