package loadbench

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU
// times: 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// would need cgo to ask).
const clockTicks = 100

// ProcCPU is a process's CPU time so far: its own (user and system), and
// that of its children it waited for (PostgreSQL's postmaster reaps its
// backends: their time moves to it when they exit).
type ProcCPU struct {
	Own, Children time.Duration
}

// ReadCPU reads /proc/<pid>/stat.
func ReadCPU(pid int) (ProcCPU, error) {
	f, err := statFields(pid)
	if err != nil {
		return ProcCPU{}, err
	}
	// Fields after the command: state(3) ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime(14) stime cutime cstime(17).
	tick := func(i int) time.Duration {
		n, _ := strconv.ParseInt(f[i-3], 10, 64)
		return time.Duration(n) * time.Second / clockTicks
	}
	return ProcCPU{Own: tick(14) + tick(15), Children: tick(16) + tick(17)}, nil
}

// statFields are /proc/<pid>/stat's fields after the command (which may
// hold spaces and parentheses): f[0] is field 3, the state.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command in %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// Children lists the processes whose parent is pid (PostgreSQL's
// backends and helpers, children of the postmaster; each is the leader of
// a process group of its own, so the postmaster's group does not hold
// them).
func Children(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if f, err := statFields(child); err == nil && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// TreeCPU is the CPU pid and its children have used so far: its own, its
// live children's own, and that of the children it reaped (PostgreSQL's
// exited backends). Exact for a server whose workers are its children, as
// PostgreSQL's are; a child's children are not counted until reaped.
func TreeCPU(pid int) time.Duration { return treeCPU(pid, nil) }

// treeCPU is TreeCPU, handing each live child's own CPU to each (if set)
// as it reads it.
func treeCPU(pid int, each func(child int, own time.Duration)) time.Duration {
	c, err := ReadCPU(pid)
	if err != nil {
		return 0
	}
	total := c.Own + c.Children
	for _, child := range Children(pid) {
		if cc, err := ReadCPU(child); err == nil {
			total += cc.Own
			if each != nil {
				each(child, cc.Own)
			}
		}
	}
	return total
}

// Memory is a process's resident set: now and its peak (VmHWM).
type Memory struct {
	RSS, Peak int64 // bytes
}

// ReadMemory reads /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = kb << 10
		case "VmHWM":
			m.Peak = kb << 10
		}
	}
	return m, sc.Err()
}

// Machine describes the host for the report: CPU model, cores, memory.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores%s", model, runtime.NumCPU(), mem)
}

// LoadAverage is /proc/loadavg's three averages.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// PostgresCPU is PostgreSQL's CPU so far: the whole server's (TreeCPU)
// and each live child's, by its pid, with what its process title says
// it is (postgresKind).
type PostgresCPU struct {
	Total time.Duration
	procs map[int]postgresProc
}

type postgresProc struct {
	kind string
	cpu  time.Duration
}

// ReadPostgresCPU reads the CPU of the postmaster pid and of each of its
// children, in one pass over them (treeCPU): Total and the children's
// own are read at the same moment.
func ReadPostgresCPU(pid int) PostgresCPU {
	c := PostgresCPU{procs: map[int]postgresProc{}}
	c.Total = treeCPU(pid, func(child int, own time.Duration) {
		title, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if err != nil {
			return // exited since it was read: its time is in Total, counted as exited
		}
		c.procs[child] = postgresProc{kind: postgresKind(string(title)), cpu: own}
	})
	return c
}

// Since is the CPU each kind of process used from then to c. Time of
// processes that ended in between (a backend closed, an autovacuum worker
// done) cannot be told apart once the postmaster has reaped them: it is
// under "exited, and the postmaster".
func (c PostgresCPU) Since(then PostgresCPU) map[string]time.Duration {
	by := map[string]time.Duration{}
	var live time.Duration
	for pid, p := range c.procs {
		d := p.cpu
		if q, ok := then.procs[pid]; ok && q.kind == p.kind {
			d -= q.cpu
		}
		by[p.kind] += d
		live += d
	}
	by["exited, and the postmaster"] += c.Total - then.Total - live
	return by
}

// postgresKind is the kind of PostgreSQL process whose /proc cmdline is
// title: PostgreSQL rewrites it to "postgres: " and what the process is —
// "checkpointer", "autovacuum worker <database>", or for a client's
// backend "<user> <database> <client> <what it is doing>".
func postgresKind(title string) string {
	title = strings.TrimSpace(strings.ReplaceAll(title, "\x00", " "))
	rest, ok := strings.CutPrefix(title, "postgres: ")
	if !ok {
		return "postmaster's other children"
	}
	for _, k := range []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher", "autovacuum worker",
		"logical replication launcher", "io worker", "walsummarizer", "parallel worker", "startup", "archiver"} {
		if strings.HasPrefix(rest, k) {
			return k
		}
	}
	return "client backends"
}

// FormatPostgresCPU lists by, largest first: "client backends 9.1 s, …".
func FormatPostgresCPU(by map[string]time.Duration) string {
	kinds := slices.Collect(maps.Keys(by))
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(cmp.Compare(by[b], by[a]), strings.Compare(a, b)) })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %.2f s", k, by[k].Seconds()))
	}
	return strings.Join(parts, ", ")
}
