package store

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The memo of checks is one append-only log per store, checked.log: a line
// "<sha256> <ino> <size> <mtime> <ctime>" per check, the last line of an
// entry winning, "<sha256> -" forgetting it. It is read once per opened
// Store, so a presence check costs one fstatat(2) and a map lookup. Lines
// are appended with O_APPEND in one write each, so processes sharing a
// store interleave whole lines; a torn or foreign line is skipped. The log
// is only a cache: losing it, or a line, costs a re-hash, never a wrong
// answer (a memo matches only the very inode, size, mtime and ctime that
// were hashed).

// BinaryStamp identifies the running monogres binary (device, inode, size,
// modification and change times of /proc/self/exe) for memos whose answer
// depends on monogres' own code: a new binary misses every such memo. It
// is "" when the binary cannot be identified; then nothing may be
// remembered.
func BinaryStamp() string {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return ""
	}
	return fmt.Sprintf("exe %d %d %d %d.%d %d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
}

// stamp identifies one version of a file: a write changes mtime and ctime,
// a replacement the inode, and ctime cannot be set back by a user.
type stamp struct{ ino, size, mtime, ctime int64 }

func stampOf(fi fs.FileInfo) stamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stamp{}
	}
	return stamp{int64(st.Ino), st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
}

func stampOfUnix(st *unix.Stat_t) stamp {
	return stamp{int64(st.Ino), st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
}

// memos is the in-memory view of checked.log.
type memos struct {
	once  sync.Once
	mu    sync.Mutex
	m     map[string]stamp
	lines int // lines read from the log at load
}

func (s *Store) memoLog() string { return filepath.Join(s.dir, "checked.log") }

// loadMemos reads checked.log once, compacting it when most of its lines
// are superseded.
func (s *Store) loadMemos() {
	s.memo.once.Do(func() {
		s.memo.m = map[string]stamp{}
		f, err := os.Open(s.memoLog())
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			s.memo.lines++
			sha, rest, ok := strings.Cut(sc.Text(), " ")
			if !ok || !ValidSHA256(sha) {
				continue
			}
			if rest == "-" {
				delete(s.memo.m, sha)
				continue
			}
			if t, ok := parseStamp(rest); ok {
				s.memo.m[sha] = t
			}
		}
		if s.memo.lines > 1024 && s.memo.lines > 2*len(s.memo.m) {
			s.compactMemos()
		}
	})
}

func parseStamp(s string) (stamp, bool) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return stamp{}, false
	}
	var v [4]int64
	for i := range f {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return stamp{}, false
		}
		v[i] = n
	}
	t := stamp{v[0], v[1], v[2], v[3]}
	return t, t.ino != 0
}

// compactMemos rewrites checked.log with one line per live memo. A line
// another process appends to the old log meanwhile is lost: a re-hash.
func (s *Store) compactMemos() {
	var b strings.Builder
	for sha, t := range s.memo.m {
		fmt.Fprintf(&b, "%s %d %d %d %d\n", sha, t.ino, t.size, t.mtime, t.ctime)
	}
	f, err := os.CreateTemp(s.dir, ".checked-*")
	if err != nil {
		return
	}
	_, werr := f.WriteString(b.String())
	if f.Close() != nil || werr != nil || os.Rename(f.Name(), s.memoLog()) != nil {
		os.Remove(f.Name())
	}
}

// memoOf returns the stamp recorded when sha was last checked (zero if none).
func (s *Store) memoOf(sha string) stamp {
	s.loadMemos()
	s.memo.mu.Lock()
	defer s.memo.mu.Unlock()
	return s.memo.m[sha]
}

// remember records that sha was checked with stamp t. A memo lost by a
// crash only costs a re-hash, so the log is not fsynced.
func (s *Store) remember(sha string, t stamp) {
	if t.ino == 0 {
		return
	}
	s.loadMemos()
	s.memo.mu.Lock()
	s.memo.m[sha] = t
	s.memo.mu.Unlock()
	s.appendMemo(fmt.Sprintf("%s %d %d %d %d\n", sha, t.ino, t.size, t.mtime, t.ctime))
}

// forget drops the memo of sha (an evicted or collected entry).
func (s *Store) forget(sha string) {
	s.loadMemos()
	s.memo.mu.Lock()
	_, had := s.memo.m[sha]
	delete(s.memo.m, sha)
	s.memo.mu.Unlock()
	if had {
		s.appendMemo(sha + " -\n")
	}
}

func (s *Store) appendMemo(line string) {
	f, err := os.OpenFile(s.memoLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.WriteString(line)
	f.Close()
}
