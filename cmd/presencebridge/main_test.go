package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/seal"
	"presencebridge/internal/testkit"
)

// The tests run the real binary, as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pb-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "presencebridge")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build presencebridge: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testkit.Main(m)
}

const testKey = "PB_SEAL_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// serveRing is the seal ring of testKey: the key the processes started
// with it seal with. A test whose store shares a database with such a
// process uses it, so that each can open what the other sealed; other
// tests use storetest.Ring.
func serveRing(t testing.TB) *seal.Ring {
	t.Helper()
	keys, err := seal.ParseKeys(strings.TrimPrefix(testKey, "PB_SEAL_KEYS="))
	if err != nil {
		t.Fatalf("parse testKey: %v", err)
	}
	ring, err := seal.NewRing(keys, "k1")
	if err != nil {
		t.Fatalf("seal ring of testKey: %v", err)
	}
	return ring
}

// command prepares the binary with a clean PB_* environment plus env.
func command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

func TestBadConfigurationExitsWithOneClearLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	prod := []string{"PB_BASE_URL=https://bridge.example.com", testKey, "PB_DATABASE_URL=postgres://u:pw@127.0.0.1:1/db"}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown role", prod, []string{"dispatcher"}, 2, `unknown role or command "dispatcher"`},
		{"unknown PB_ROLE", append(prod, "PB_ROLE=dispatcher"), nil, 2, `PB_ROLE: unknown role "dispatcher"`},
		{"malformed database url", []string{"PB_BASE_URL=https://b.example", testKey, "PB_DATABASE_URL=postgres://u:hunter2@host:port/db"}, []string{"serve"}, 1, "PB_DATABASE_URL: not a valid PostgreSQL URL"},
		{"missing key in production", []string{"PB_BASE_URL=https://b.example"}, []string{"serve"}, 1, "PB_SEAL_KEYS: a seal key is required in production"},
		{"port in use", append(prod, "PB_HTTP_ADDR="+busy.Addr().String()), []string{"serve"}, 1, "PB_HTTP_ADDR: " + busy.Addr().String() + " is already in use"},
		{"bad seal key", []string{"PB_BASE_URL=https://b.example", "PB_SEAL_KEYS=k1:bm90IGEga2V5", "PB_HTTP_ADDR=127.0.0.1:0", "PB_DATABASE_URL=postgres://u:pw@127.0.0.1:1/db"}, []string{"serve"}, 1, "PB_SEAL_KEYS: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := command(t.Context(), c.env, c.args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if err == nil || code != c.code {
				t.Fatalf("exit code %d (%v), want %d; stderr:\n%s", code, err, c.code, stderr.String())
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "presencebridge: ") || !strings.Contains(lines[0], c.want) {
				t.Fatalf("stderr = %q\nwant one line containing %q", stderr.String(), c.want)
			}
			if strings.Contains(stderr.String(), "hunter2") || strings.Contains(stderr.String(), "bm90IGEga2V5") {
				t.Fatalf("stderr reveals a secret: %q", stderr.String())
			}
		})
	}
}

func TestHelpListsEnvironmentVariables(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"web", "--help"}, {"worker", "--help"}, {"migrate", "--help"}, {"dev", "--help"}, {"keys", "--help"}} {
		out, err := command(t.Context(), nil, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, want := range []string{"PB_DATABASE_URL", "PB_SEAL_KEYS", "PB_HTTP_ADDR"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%v does not mention %s", args, want)
			}
		}
	}
}

// process is a running presencebridge whose log is watched for its URL.
type process struct {
	cmd    *exec.Cmd
	url    chan string
	exited chan struct{}
	err    error
	mu     sync.Mutex
	output strings.Builder
	stdout []string
}

func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{url: make(chan string, 1), exited: make(chan struct{})}
	// env comes last: a test may choose the address (a restart on the same port).
	p.cmd = command(context.Background(), append([]string{"PB_LOG_FORMAT=json", "PB_HTTP_ADDR=127.0.0.1:0"}, env...), args...)
	stderr, _ := p.cmd.StderrPipe()
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watch := func(r io.Reader, isStdout bool) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			if isStdout {
				p.stdout = append(p.stdout, line)
			}
			p.mu.Unlock()
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "presencebridge started" {
				p.url <- rec.URL
			}
		}
	}
	var pipes sync.WaitGroup
	pipes.Go(func() { watch(stderr, false) })
	pipes.Go(func() { watch(stdout, true) })
	go func() {
		pipes.Wait() // Wait must not close the pipes before we have read them
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// waitReady waits for the process's URL and then for /readyz to answer 200.
func (p *process) waitReady(t *testing.T, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	var base string
	select {
	case base = <-p.url:
	case <-p.exited:
		t.Fatalf("exited before starting (%v); output:\n%s", p.err, p.log())
	case <-deadline:
		t.Fatalf("no start within %s; output:\n%s", within, p.log())
	}
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-deadline:
			t.Fatalf("/readyz not 200 within %s (last: %v); output:\n%s", within, err, p.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// firstStdoutLine waits up to d for the process's first line on stdout.
func (p *process) firstStdoutLine(d time.Duration) string {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.mu.Lock()
		if len(p.stdout) > 0 {
			defer p.mu.Unlock()
			return p.stdout[0]
		}
		p.mu.Unlock()
	}
	return ""
}

// stop sends SIGTERM and requires a clean exit.
func (p *process) stop(t *testing.T) { p.stopWith(t, syscall.SIGTERM) }

// stopWith sends sig (SIGINT: a Ctrl-C) and requires a clean exit, code 0.
func (p *process) stopWith(t *testing.T, sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("exit after %v: %v; output:\n%s", sig, p.err, p.log())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("no exit within 30s of %v; output:\n%s", sig, p.log())
	}
}

// freshDatabase makes a database of its own on the test server (named
// after prefix and a random suffix, so -count=N runs do not collide) and
// returns its URL.
func freshDatabase(t *testing.T, prefix string) string {
	t.Helper()
	srv := testkit.Server(t)
	db := prefix + "_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if err := srv.EnsureDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return srv.DSN(db)
}

func TestTwoServeProcessesOnOneFreshDatabase(t *testing.T) {
	srv := testkit.Server(t)
	if err := srv.EnsureDatabase(t.Context(), "two_serve"); err != nil {
		t.Fatal(err)
	}
	env := []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + srv.DSN("two_serve")}
	a := startProcess(t, env, "serve")
	b := startProcess(t, env, "serve")
	a.waitReady(t, 30*time.Second)
	b.waitReady(t, 30*time.Second)
	a.stop(t)
	b.stop(t)
}

func TestDevStartsReadyAndKeepsItsDataAcrossRuns(t *testing.T) {
	parent, err := os.MkdirTemp("", "pb-dev-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	os.Chmod(parent, 0o711) // the embedded server may run as another user
	env := []string{"PB_DATA_DIR=" + filepath.Join(parent, "data")}

	first := startProcess(t, env, "dev")
	base := first.waitReady(t, 30*time.Second)
	firstLine := first.firstStdoutLine(5 * time.Second)
	if firstLine != "Presence Bridge  "+base {
		t.Errorf("dev's first output line = %q, want the product URL %s; output:\n%s", firstLine, base, first.log())
	}
	first.stop(t)
	key1, err := os.ReadFile(filepath.Join(parent, "data", "seal.keys"))
	if err != nil {
		t.Fatalf("dev did not create its key file: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(parent, "data", "seal.keys")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}

	second := startProcess(t, env, "dev")
	second.waitReady(t, 30*time.Second)
	second.stopWith(t, syscall.SIGINT) // Ctrl-C ends a demo with code 0 (make dev runs the binary, not go run)
	if strings.Contains(second.log(), "initialised a PostgreSQL data folder") {
		t.Error("second dev run initialised the database again instead of keeping it")
	}
	key2, _ := os.ReadFile(filepath.Join(parent, "data", "seal.keys"))
	if string(key1) != string(key2) {
		t.Error("second dev run replaced the key file")
	}
}
