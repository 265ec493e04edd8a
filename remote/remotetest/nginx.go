// Package remotetest runs a real nginx as a Bazel HTTP cache (WebDAV PUT)
// on loopback for tests. Only tests import it.
package remotetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Options shape the server.
type Options struct {
	// ReadOnly refuses PUT (403), as a cache published read-only.
	ReadOnly bool
	// User and Password, if set, require HTTP basic auth.
	User, Password string
	// Socket also listens on this unix socket path (for clients in other
	// network namespaces).
	Socket string
}

// Server is one nginx.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Root string // the directory served: Root/ac/KEY, Root/cas/SHA256
	Addr string
	dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// Nginx starts nginx (skipping the test if it is not installed) and stops
// it when the test ends.
func Nginx(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Skip("nginx is not installed (apt-get install nginx-light)")
		}
		bin = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	s := &Server{Root: filepath.Join(dir, "data"), dir: dir, t: t}
	for _, d := range []string{s.Root, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	l.Close()
	s.URL = "http://" + s.Addr
	var auth, ro, listen string
	if o.User != "" {
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(o.User+":{PLAIN}"+o.Password+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth_basic cache; auth_basic_user_file %s/htpasswd;", dir)
	}
	if o.ReadOnly {
		ro = "limit_except GET HEAD { deny all; }"
	}
	if o.Socket != "" {
		listen = "listen unix:" + o.Socket + ";"
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 512; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/tmp;
	client_max_body_size 0;
	server {
		listen %[2]s;
		%[5]s
		root %[3]s;
		location / {
			%[4]s
			%[6]s
			dav_methods PUT DELETE;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
		}
	}
}
`, dir, s.Addr, s.Root, auth, listen, ro)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	s.t.Fatalf("nginx did not start on %s:\n%s", s.Addr, b)
}

// Stop stops nginx (a stopped cache: connections are refused).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Restart starts a stopped nginx again.
func (s *Server) Restart() { s.Stop(); s.start() }

// Path is the file holding what the cache serves at rel ("ac/KEY").
func (s *Server) Path(rel string) string { return filepath.Join(s.Root, filepath.FromSlash(rel)) }

// Requests returns the access log lines (method and path) so far. nginx
// logs a request after answering it, so it first waits a little.
func (s *Server) Requests() []string {
	time.Sleep(100 * time.Millisecond)
	b, _ := os.ReadFile(filepath.Join(s.dir, "access.log"))
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i := strings.IndexByte(l, '"'); i >= 0 {
			if j := strings.IndexByte(l[i+1:], '"'); j >= 0 {
				out = append(out, l[i+1:i+1+j])
			}
		}
	}
	return out
}
