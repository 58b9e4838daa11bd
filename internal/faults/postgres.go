package faults

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/pgembed"
	"presencebridge/internal/store/schema"
)

// Postgres is a PostgreSQL server of the scenario's own, from the local
// binaries (pgembed), reached by each product process through a Proxy of
// its own: it can be killed, restarted at once (crash recovery) and made
// unreachable, for all or for one process, while the product runs. The
// suite's own reads (onboarding, the ledger) go to its socket directly,
// so a cut does not blind them.
type Postgres struct {
	dir  string
	srv  *pgembed.Server
	opts PostgresOptions

	mu      sync.Mutex
	proxies map[string]*Proxy
}

// Database is the product's database on the server.
const Database = "presencebridge"

// StartPostgres starts a server in a folder of its own, a copy of a
// cluster initialised and migrated once per test process (initdb and the
// migrations cost seconds a scenario need not spend each time). It runs
// with synchronous commits: a commit the product was told of survives the
// server's SIGKILL, as in production (fsync is off, which only an
// operating-system crash would notice).
func StartPostgres(ctx context.Context) (*Postgres, error) {
	return StartPostgresWith(ctx, PostgresOptions{})
}

// PostgresOptions change the server StartPostgres runs.
type PostgresOptions struct {
	// Fsync makes the server durable against an operating-system crash
	// too (fsync and full-page writes on), as production runs: a load
	// run measures commits at their real cost. The suite's scenarios run
	// without, their crashes being the server's, not the machine's.
	Fsync bool
	// Settings are further server settings (name → value).
	Settings map[string]string
}

// StartPostgresWith is StartPostgres with opts.
func StartPostgresWith(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	templateOnce.Do(func() { templateDir, templateErr = makeTemplate(ctx) })
	if templateErr != nil {
		return nil, templateErr
	}
	dir, err := newPGDir()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{dir: dir, proxies: map[string]*Proxy{}, opts: opts}
	if out, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(templateDir, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy the template cluster: %v: %s", err, out)
	}
	if err := pg.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return pg, nil
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

func newPGDir() (string, error) {
	dir, err := os.MkdirTemp("", "pb-faults-pg-")
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o711) // the server may run as another user
	return dir, nil
}

// makeTemplate initialises a cluster with the product's database,
// migrated, and stops it cleanly.
func makeTemplate(ctx context.Context) (string, error) {
	dir, err := newPGDir()
	if err != nil {
		return "", err
	}
	pg := &Postgres{dir: dir}
	if err := pg.start(ctx); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	defer pg.srv.Stop()
	if err := pg.srv.EnsureDatabase(ctx, Database); err != nil {
		return dir, err
	}
	pool, err := pgxpool.New(ctx, pg.DirectDSN())
	if err != nil {
		return dir, err
	}
	defer pool.Close()
	if err := schema.Up(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return dir, fmt.Errorf("migrate the template database: %w", err)
	}
	return dir, nil
}

func (pg *Postgres) start(ctx context.Context) error {
	settings := map[string]string{"fsync": "off", "full_page_writes": "off"}
	if pg.opts.Fsync {
		settings = map[string]string{}
	}
	for k, v := range pg.opts.Settings {
		settings[k] = v
	}
	srv, err := pgembed.Start(ctx, pgembed.Options{DataDir: filepath.Join(pg.dir, "data"), Durable: true, MaxConnections: 200,
		Settings: settings})
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	pg.srv = srv
	return nil
}

// socket is the server's Unix socket, from its DSN.
func (pg *Postgres) socket() (network, target string) {
	u, _ := url.Parse(pg.srv.DSN(Database))
	port := u.Query().Get("port")
	if port == "" {
		port = "5432"
	}
	return "unix", filepath.Join(u.Query().Get("host"), ".s.PGSQL."+port)
}

// Proxy is the proxy of the process called name, made on first use.
func (pg *Postgres) Proxy(name string) (*Proxy, error) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if p := pg.proxies[name]; p != nil {
		return p, nil
	}
	network, target := pg.socket()
	p, err := NewProxy(network, target)
	if err != nil {
		return nil, err
	}
	pg.proxies[name] = p
	return p, nil
}

// DSN is the database through proxy p: what a product process connects to.
func DSN(p *Proxy) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", pgembed.Superuser, p.Addr, Database)
}

// each calls fn for every process's proxy.
func (pg *Postgres) each(fn func(*Proxy)) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	for _, p := range pg.proxies {
		fn(p)
	}
}

// Cut makes the server unreachable for every process (connections reset,
// new ones refused) until Restore.
func (pg *Postgres) Cut() { pg.each((*Proxy).Cut) }

// Restore makes the server reachable again.
func (pg *Postgres) Restore() { pg.each((*Proxy).Restore) }

// Stall blackholes the server for every process: what they send is held,
// nothing is answered, connections stay open — until Unstall.
func (pg *Postgres) Stall() { pg.each((*Proxy).HoldRequests) }

// Unstall delivers what was held, as a network that comes back does, and
// lets everything through again.
func (pg *Postgres) Unstall() { pg.each((*Proxy).ReleaseRequests) }

// DirectDSN is the database on the server's socket, around the proxy.
// It changes when the server restarts.
func (pg *Postgres) DirectDSN() string { return pg.srv.DSN(Database) }

// Kill sends SIGKILL to the server and all its processes (their own
// process group), as the kernel's OOM killer or a lost machine would: no
// shutdown checkpoint, crash recovery at the next start.
func (pg *Postgres) Kill() error {
	pid, err := pg.postmasterPid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL PostgreSQL: %w", err)
	}
	select {
	case <-pg.srv.Exited():
	case <-time.After(10 * time.Second):
		return fmt.Errorf("PostgreSQL (pid %d) did not die of SIGKILL", pid)
	}
	pg.srv.Stop() // removes its socket folder; the server is gone already
	return nil
}

// Restart starts the server again on its data folder (after Kill or
// Immediate) and points the proxy at its new socket. PostgreSQL refuses
// to start while a killed server's last processes still hold its shared
// memory, so it tries for a while.
func (pg *Postgres) Restart(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pg.start(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	network, target := pg.socket()
	pg.each(func(p *Proxy) { p.Retarget(network, target) })
	return nil
}

// Immediate is PostgreSQL's immediate shutdown (SIGQUIT, what pg_ctl
// stop -m immediate sends): every backend quits at once, nothing is
// checkpointed, and the next start recovers from the WAL.
func (pg *Postgres) Immediate() error {
	pid, err := pg.postmasterPid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return fmt.Errorf("SIGQUIT PostgreSQL: %w", err)
	}
	select {
	case <-pg.srv.Exited():
	case <-time.After(30 * time.Second):
		return fmt.Errorf("PostgreSQL (pid %d) did not stop on SIGQUIT", pid)
	}
	pg.srv.Stop()
	return nil
}

// Pid is the server's (postmaster's) process id; its backends are its
// children, in its process group.
func (pg *Postgres) Pid() (int, error) { return pg.postmasterPid() }

// postmasterPid reads the server's pid from postmaster.pid, its first line.
func (pg *Postgres) postmasterPid() (int, error) {
	b, err := os.ReadFile(filepath.Join(pg.srv.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.SplitN(string(b), "\n", 2)[0], &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("postmaster.pid: no pid in %q", b)
	}
	return pid, nil
}

// Close stops the proxy and the server and removes the folder.
func (pg *Postgres) Close() {
	pg.each((*Proxy).Close)
	if pg.srv != nil {
		pg.srv.Stop()
	}
	os.RemoveAll(pg.dir)
}
