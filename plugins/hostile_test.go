package plugins

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHostileInfiniteLoopStopsAtDeadline(t *testing.T) {
	h := newHost(t, Options{Timeout: 2 * time.Second})
	m := compile(t, h, "./testdata/hostile/loop")
	start := time.Now()
	_, err := h.Call(context.Background(), m, testRequest(), nil, nil)
	wantErr(t, err, "plugin loop: stopped: it did not finish within 2s")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("call took %s; the deadline is 2s", d)
	}
}

func TestHostileCallerCancel(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/loop")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	_, err := h.Call(ctx, m, testRequest(), nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
}

func TestHostileAllocationStopsAtMemoryLimit(t *testing.T) {
	h := newHost(t, Options{MemoryLimitMiB: 64})
	m := compile(t, h, "./testdata/hostile/alloc")
	var stderr bytes.Buffer
	_, err := h.Call(context.Background(), m, testRequest(), nil, &stderr)
	wantErr(t, err, "plugin alloc: ran out of memory: its linear memory reached the limit of 64 MiB", "fatal error: out of memory")
	t.Logf("error: %v", err)
}

func TestHostileStdoutFloodIsBounded(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/flood")
	_, err := h.Call(context.Background(), m, testRequest(), nil, nil)
	wantErr(t, err, "plugin flood: stopped: it wrote more than 16777216 bytes to stdout")
}

func TestHostileStderrIsBounded(t *testing.T) {
	h := newHost(t, Options{MaxStderr: 100})
	m := compile(t, h, "./testdata/hostile/malformed")
	var stderr bytes.Buffer
	req := testRequest()
	req.Params = map[string]string{"mode": strings.Repeat("z", 300)}
	_, err := h.Call(context.Background(), m, req, nil, &stderr)
	wantErr(t, err, "plugin malformed: exited with status 1", "unknown mode")
	if !strings.HasPrefix(stderr.String(), `malformed: unknown mode "zzz`) || !strings.Contains(stderr.String(), "bytes of plugin stderr dropped after 100 bytes") || stderr.Len() > 200 {
		t.Errorf("stderr was not bounded to 100 bytes plus a note: %q", stderr.String())
	}
}

func TestHostileWrongProtocol(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/protocol")
	_, err := h.Call(context.Background(), m, testRequest(), nil, nil)
	wantErr(t, err, "plugin protocol: answered protocol version 2; this monogres speaks version 1")
}

func TestHostileMalformedPlans(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/malformed")
	for mode, want := range map[string][]string{
		"garbage":   {"stdout is not a JSON plan", `"this is not a plan\n"`},
		"nothing":   {"wrote no plan to stdout"},
		"dotdot":    {`files[0].path "../../etc/cron.d/evil": must not contain ".."`},
		"absolute":  {`files[0].path "/etc/passwd": must be relative to the tree, not absolute`},
		"emptyargv": {"commands[0].argv: is empty"},
		"unknown":   {"malformed plan", `unknown field "run_on_host"`},
		"nocommand": {"commands: plan has no commands"},
		"badpatch":  {"patches[0].diff", `"not a diff" is neither a header line nor a hunk header`},
		"badglob":   {`package[0] "lib/[x": malformed pattern`},
		"twovalues": {"more than one JSON value on stdout"},
		"fail":      {"exited with status 3", "malformed: giving up on purpose"},
	} {
		t.Run(mode, func(t *testing.T) {
			req := testRequest()
			req.Params = map[string]string{"mode": mode}
			_, err := h.Call(context.Background(), m, req, nil, nil)
			wantErr(t, err, append([]string{"plugin malformed: "}, want...)...)
		})
	}
}

// TestHostileTerminalControl: a plugin's stderr is shown on the user's
// terminal (`monogres plugin run`, `monogres plugin cell`) and quoted in
// errors, and its plan paths are printed; none may carry terminal control
// (retitling the window, clearing the screen, a C1 CSI). Before the fix the
// ESC, BEL and U+009B bytes reached the caller's stderr and the error, and
// both plans were accepted.
func TestHostileTerminalControl(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/malformed")
	req := testRequest()
	req.Params = map[string]string{"mode": "escstderr"}
	var stderr bytes.Buffer
	_, err := h.Call(context.Background(), m, req, nil, &stderr)
	wantErr(t, err, "plugin malformed: exited with status 3", `malformed: \x1b]0;pwned\a\x1b[2J\u009b31mgiving up`)
	for _, s := range []string{stderr.String(), err.Error()} {
		if strings.ContainsAny(s, "\x1b\x07\u009b") {
			t.Errorf("terminal control passed through: %q", s)
		}
	}
	if want := "malformed: \\x1b]0;pwned\\a\\x1b[2J\\u009b31mgiving up\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	for mode, want := range map[string]string{
		"escpath": `invalid plan: files[0].path: "Makefile\x1b]0;pwned\a" contains the control character U+001B`,
		"escglob": `invalid plan: package[0]: "lib/\u009b2J" contains the control character U+009B`,
	} {
		req.Params = map[string]string{"mode": mode}
		_, err := h.Call(context.Background(), m, req, nil, nil)
		wantErr(t, err, want)
		if strings.ContainsAny(err.Error(), "\x1b\u009b") {
			t.Errorf("%s: terminal control in the error: %q", mode, err)
		}
	}
}

// TestHostileEscape gives a plugin a tree with symlinks pointing out of it
// (absolute, relative to a file that exists next to the staging directory,
// deep ../ chains) and lets it try to read them, read host paths, open raw
// "../" paths through WASI, and write into the tree. Every attempt must fail
// while a symlink inside the tree still works.
func TestHostileEscape(t *testing.T) {
	base := t.TempDir()
	secret := "TOPSECRET-" + filepath.Base(base)
	mustWrite(t, filepath.Join(base, "outside/secret.txt"), secret)
	src := filepath.Join(base, "src")
	mustWrite(t, filepath.Join(src, "Makefile"), "all:\n")
	mustWrite(t, filepath.Join(src, "sub/file.c"), "int x;\n")
	for link, target := range map[string]string{
		"abs-link":    filepath.Join(base, "outside/secret.txt"),
		"rel-link":    "../outside/secret.txt", // from the staging dir, next to outside/
		"deep-link":   "../../../../../../../../etc/passwd",
		"sub/up-link": "../../outside/secret.txt",
		"inside-link": "Makefile",
	} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	// Stage into base, so that rel-link, followed naively from the staging
	// copy, would reach base/outside/secret.txt.
	h := newHost(t, Options{TempDir: base})
	m := compile(t, h, "./testdata/hostile/escape")
	var stderr bytes.Buffer
	p, err := h.Call(context.Background(), m, testRequest(), os.DirFS(src), &stderr)
	if err == nil {
		t.Fatalf("plugin escaped: %+v", p)
	}
	t.Logf("error: %v", err)
	wantErr(t, err, "plugin escape: exited with status 1: plugin: escape attempts all failed (inside-link read 5 bytes)",
		"write /src/pwned: open /src/pwned: Read-only file system", "mkdir /src/newdir: mkdir /src/newdir: Read-only file system")
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the error is not one line: %v", err)
	}
	wantErr(t, err, "read /etc/passwd:", "read /src/abs-link:", "read /src/rel-link:", "read /src/deep-link:", "read /src/sub/up-link:",
		"path_open ../../etc/passwd:", "path_open sub/../../outside/secret.txt:", "path_open ../outside/secret.txt:",
		"path_open rel-link:", "write /src/pwned:", "mkdir /src/newdir:", "remove /src/Makefile:")
	if strings.Contains(err.Error()+stderr.String(), secret) || strings.Contains(err.Error(), "root:x:0:0") {
		t.Errorf("secret leaked: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(src, "pwned")); err == nil {
		t.Errorf("plugin created a file in the source tree")
	}
	if _, err := os.Stat(filepath.Join(src, "Makefile")); err != nil {
		t.Errorf("plugin removed a file from the source tree: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(base, "monogres-plugin-src-*")); len(left) > 0 {
		t.Errorf("staging copies left behind: %v", left)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFileErrorsNameTheirCause: a plugin returning a raw file error gets
// the reason added (read-only tree, outside the tree, a symlink out of
// it), on one line; a panic is one line too, its stack only on stderr.
func TestFileErrorsNameTheirCause(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	mustWrite(t, filepath.Join(src, "Makefile"), "all:\n")
	mustWrite(t, filepath.Join(base, "secret"), "x")
	os.Symlink("../secret", filepath.Join(src, "out-link"))
	h := newHost(t, Options{TempDir: base})
	m := compile(t, h, "./testdata/fserr")
	for op, want := range map[string]string{
		"write":   "plugin fserr: exited with status 1: plugin: open /src/generated.sql: Read-only file system (the source tree /src is read-only: return new files in Plan.Files and changes in Plan.Patches)",
		"outside": "plugin fserr: exited with status 1: plugin: open /etc/passwd: Bad file number (/etc/passwd is outside the source tree: a plugin sees only the read-only tree at /src)",
		"symlink": "plugin fserr: exited with status 1: plugin: open /src/out-link: I/O error (/src/out-link is probably a symlink leading outside the source tree, which a plugin cannot follow)",
		"panic":   "plugin fserr: exited with status 2: plugin: panic: assignment to entry in nil map (",
	} {
		t.Run(op, func(t *testing.T) {
			req := testRequest()
			req.Params = map[string]string{"op": op}
			var stderr bytes.Buffer
			_, err := h.Call(context.Background(), m, req, os.DirFS(src), &stderr)
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v\nwant one line starting %q", err, want)
			}
			if op == "panic" && strings.Count(stderr.String(), "\ngoroutine ") != 1 {
				t.Errorf("stderr does not hold the stack once:\n%s", stderr.String())
			}
		})
	}
}

// TestHostileNoResidueBetweenCalls: linear memory is reused across calls
// (mmapAllocator's pool), so a call that fills its heap with a marker must
// leave nothing a later call can read.
// TestHostileEscapeInMemoryTree: a tree without symlinks is staged in
// memory (stageMemory) rather than on disk; the same escapes fail there,
// with the host directory holding the tree right next to a secret.
func TestHostileEscapeInMemoryTree(t *testing.T) {
	base := t.TempDir()
	secret := "top secret in memory"
	mustWrite(t, filepath.Join(base, "outside/secret.txt"), secret)
	src := filepath.Join(base, "src")
	mustWrite(t, filepath.Join(src, "Makefile"), "all:\n")
	mustWrite(t, filepath.Join(src, "sub/file.c"), "int x;\n")
	if _, _, ok, err := stageMemory(os.DirFS(src), stageMemoryMax); !ok || err != nil {
		t.Fatalf("the tree is not staged in memory: %v %v", ok, err)
	}
	h := newHost(t, Options{TempDir: base})
	m := compile(t, h, "./testdata/hostile/escape")
	req := testRequest()
	req.Params = map[string]string{"tree": "nolinks"}
	var stderr bytes.Buffer
	p, err := h.Call(context.Background(), m, req, os.DirFS(src), &stderr)
	if err == nil {
		t.Fatalf("plugin escaped: %+v", p)
	}
	wantErr(t, err, "plugin escape: exited with status 1: plugin: escape attempts all failed (inside-link read 0 bytes)",
		"write /src/pwned: open /src/pwned: Read-only file system", "mkdir /src/newdir: mkdir /src/newdir: Read-only file system",
		"read /etc/passwd:", "path_open ../../etc/passwd:", "path_open sub/../../outside/secret.txt:", "path_open ../outside/secret.txt:",
		"remove /src/Makefile:")
	if strings.Contains(err.Error()+stderr.String(), secret) || strings.Contains(err.Error(), "root:x:0:0") {
		t.Errorf("secret leaked: %v", err)
	}
}

func TestHostileNoResidueBetweenCalls(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/residue")
	for i, mode := range []string{"write", "read", "write", "read"} {
		req := testRequest()
		req.Params = map[string]string{"mode": mode}
		var stderr bytes.Buffer
		if _, err := h.Call(context.Background(), m, req, nil, &stderr); err != nil {
			t.Fatalf("call %d (%s): %v\n%s", i, mode, err, stderr.String())
		}
	}
}
