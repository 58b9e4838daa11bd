package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one program of a scenario (a product role, graphsim) run as
// its own OS process, so that it can be killed as an operator's machine
// would kill it. Its output is kept (the last lines) for failure messages.
type Process struct {
	Name string

	cmd    *exec.Cmd
	url    chan string
	exited chan struct{}
	err    error

	mu    sync.Mutex
	lines []string
}

const keptLines = 400

// start runs bin with a clean PB_* environment plus env. firstURL says how
// the process announces its URL: the product logs "presencebridge started"
// with it (JSON), graphsim prints it as its first line on stdout.
func start(name, bin string, env []string, args ...string) (*Process, error) {
	p := &Process{Name: name, url: make(chan string, 1), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	// Killed with its harness: a run interrupted (a timeout, ^C, a kill)
	// left graphsim (2 GiB at a million users) and the product's roles
	// running, and whatever they had inherited — a lock on the benchmarks'
	// shared machine among it — held.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PB_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var pipes sync.WaitGroup
	pipes.Go(func() { p.watch(stdout, true) })
	pipes.Go(func() { p.watch(stderr, false) })
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to the end first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// StartProcess is start for other harnesses (the load run): bin as name,
// with a clean PB_* environment plus env.
func StartProcess(name, bin string, env []string, args ...string) (*Process, error) {
	return start(name, bin, env, args...)
}

// WaitReady polls url until it answers 200, for at most within.
func WaitReady(ctx context.Context, url string, within time.Duration) error {
	return waitReady(ctx, url, within)
}

func (p *Process) watch(r io.Reader, stdout bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if len(p.lines) == keptLines {
			p.lines = append(p.lines[:0], p.lines[keptLines/2:]...)
		}
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		var rec struct{ Msg, URL string }
		switch {
		case stdout && first && strings.HasPrefix(line, "http://"): // graphsim
			p.announce(line)
		case json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "presencebridge started":
			p.announce(rec.URL)
		}
		first = first && !stdout
	}
}

func (p *Process) announce(url string) {
	select {
	case p.url <- url:
	default:
	}
}

// WaitURL waits for the process to announce its URL.
func (p *Process) WaitURL(within time.Duration) (string, error) {
	select {
	case u := <-p.url:
		return u, nil
	case <-p.exited:
		return "", fmt.Errorf("%s exited before starting (%v):\n%s", p.Name, p.err, p.Log())
	case <-time.After(within):
		return "", fmt.Errorf("%s did not start within %s:\n%s", p.Name, within, p.Log())
	}
}

// Log is the process's last lines of output.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Signal sends sig.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL (nothing runs after it: no deferred function, no
// shutdown) and waits for the end.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM and waits up to within for the exit; it reports a
// non-zero exit or a process that had to be killed.
func (p *Process) Stop(within time.Duration) error {
	select {
	case <-p.exited:
		return p.exitErr("had exited already")
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.exitErr("after SIGTERM")
	case <-time.After(within):
		p.Kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM (killed):\n%s", p.Name, within, p.Log())
	}
}

func (p *Process) exitErr(when string) error {
	if p.err == nil {
		return nil
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil // killed on purpose by the scenario
		}
	}
	return fmt.Errorf("%s %s: %v:\n%s", p.Name, when, p.err, p.lastLines(30))
}

func (p *Process) lastLines(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (last: %v)", url, within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
