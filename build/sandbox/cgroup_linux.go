//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroup is the control group of one sandbox: a fresh directory in the
// cgroup v2 hierarchy or in v1's pids and memory hierarchies, whichever has
// the controller and lets this process create groups. A controller it
// could not get is left to rlimits.
type cgroup struct {
	dirs   []string // created, removed by remove
	pids   string   // the directory with pids.max, or ""
	memory string   // the directory with the memory limit, or ""
	memV2  bool
	// isolated: the sandbox runs as IsolatedID (no pids cgroup, root caller).
	isolated bool
}

var cgroupSeq atomic.Int64

// hierarchy is one mounted cgroup hierarchy and this process's group in it.
type hierarchy struct {
	v2          bool
	controllers []string // v1: the hierarchy's controllers
	dir         string   // this process's cgroup directory
}

// hierarchies reads /proc/self/mountinfo and /proc/self/cgroup.
func hierarchies() []hierarchy {
	own := map[string]string{} // controller list ("" for v2) -> path
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 {
				own[parts[1]] = parts[2]
			}
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var hs []hierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 || fields[3] != "/" {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			if p, ok := own[""]; ok {
				hs = append(hs, hierarchy{v2: true, dir: filepath.Join(fields[4], p)})
			}
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(tail[2], ",") {
				if o == "pids" || o == "memory" {
					ctrls = append(ctrls, o)
				}
			}
			for list, p := range own {
				if len(ctrls) > 0 && slices.Contains(strings.Split(list, ","), ctrls[0]) {
					hs = append(hs, hierarchy{controllers: ctrls, dir: filepath.Join(fields[4], p)})
				}
			}
		}
	}
	return hs
}

// newCgroup makes the cgroups of one sandbox with l's process and memory
// limits. It never fails: what it cannot make is left out.
func newCgroup(l Limits) *cgroup {
	cg := &cgroup{}
	name := fmt.Sprintf("monogres-sandbox-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	for _, h := range hierarchies() {
		for _, ctrl := range []string{"pids", "memory"} {
			if (ctrl == "pids" && cg.pids != "") || (ctrl == "memory" && cg.memory != "") {
				continue
			}
			var dir string
			if h.v2 {
				dir = cg.v2Dir(h.dir, ctrl, name)
			} else if slices.Contains(h.controllers, ctrl) {
				dir = cg.mkdir(filepath.Join(h.dir, name))
			}
			if dir == "" {
				continue
			}
			switch ctrl {
			case "pids":
				if write(dir, "pids.max", l.Processes) == nil {
					cg.pids = dir
				}
			case "memory":
				limit, swap := "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
				if h.v2 {
					limit, swap = "memory.max", "memory.swap.max"
				}
				if write(dir, limit, l.Memory) == nil {
					cg.memory, cg.memV2 = dir, h.v2
					if h.v2 {
						_ = write(dir, swap, 0)
					} else {
						_ = write(dir, swap, l.Memory)
					}
				}
			}
		}
	}
	return cg
}

// v2Dir returns a new group under which ctrl is available: below this
// process's own group if that delegates ctrl (or is the root and can be
// made to), else beside it, below the parent that gives ctrl to it.
func (cg *cgroup) v2Dir(own, ctrl, name string) string {
	has := func(dir, file string) bool {
		b, err := os.ReadFile(filepath.Join(dir, file))
		return err == nil && slices.Contains(strings.Fields(string(b)), ctrl)
	}
	parent := ""
	switch {
	case has(own, "cgroup.subtree_control"):
		parent = own
	case !has(own, "cgroup.controllers"):
		return ""
	case os.WriteFile(filepath.Join(own, "cgroup.subtree_control"), []byte("+"+ctrl), 0) == nil:
		parent = own // a root group, or one without processes
	default:
		parent = filepath.Dir(own)
	}
	dir := filepath.Join(parent, name)
	for _, d := range cg.dirs {
		if d == dir {
			return dir
		}
	}
	return cg.mkdir(dir)
}

func (cg *cgroup) mkdir(dir string) string {
	if os.Mkdir(dir, 0o755) != nil {
		return ""
	}
	cg.dirs = append(cg.dirs, dir)
	return dir
}

func write(dir, file string, v int64) error {
	return os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(v, 10)), 0)
}

// add moves process pid into every group.
func (cg *cgroup) add(pid int) error {
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("sandbox: adding the init to cgroup %s: %w", d, err)
		}
	}
	return nil
}

// mechanisms says how the limits are enforced, for LimitError details.
func (cg *cgroup) mechanism(ctrl string) string {
	switch {
	case ctrl == "pids" && cg.pids != "":
		return "cgroup pids.max"
	case ctrl == "pids" && cg.isolated:
		return fmt.Sprintf("RLIMIT_NPROC as host uid %d", IsolatedID)
	case ctrl == "pids":
		return "RLIMIT_NPROC"
	case cg.memory != "" && cg.memV2:
		return "cgroup memory.max"
	case cg.memory != "":
		return "cgroup memory.limit_in_bytes"
	}
	return "RLIMIT_AS per process"
}

// hits returns the limits the sandbox ran into: how often a fork was
// refused at pids.max, and how many processes the OOM killer ended.
func (cg *cgroup) hits() (forks, oomKills int64) {
	if cg.pids != "" {
		forks = event(filepath.Join(cg.pids, "pids.events"), "max")
	}
	if cg.memory != "" {
		file := "memory.oom_control"
		if cg.memV2 {
			file = "memory.events"
		}
		oomKills = event(filepath.Join(cg.memory, file), "oom_kill")
	}
	return forks, oomKills
}

// event reads the counter key from a flat-keyed cgroup file.
func event(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// remove deletes the groups once their processes are gone: the kernel
// ends a PID namespace's processes when its init exits, but not instantly.
// What is still busy after a moment is removed in the background.
func (cg *cgroup) remove() {
	if !cg.tryRemove(time.Now().Add(100 * time.Millisecond)) {
		go cg.tryRemove(time.Now().Add(10 * time.Second))
	}
}

func (cg *cgroup) tryRemove(deadline time.Time) bool {
	for i := len(cg.dirs) - 1; i >= 0; i-- {
		for {
			err := os.Remove(cg.dirs[i])
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return true
}
