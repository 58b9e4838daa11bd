package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// followLog records what KeepListening did, for a test to wait on.
type followLog struct {
	mu     sync.Mutex
	events []string
	change chan struct{}
}

func (l *followLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.change <- struct{}{}:
	default:
	}
}

// await waits until the log holds want, in order, from its start.
func (l *followLog) await(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		got := append([]string(nil), l.events...)
		l.mu.Unlock()
		if len(got) >= len(want) {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("events %q, want them to begin with %q", got, want)
				}
			}
			return
		}
		select {
		case <-l.change:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("events %q, waited for %q", got, want)
		}
	}
}

func TestAFollowerReconnectsAfterItsConnectionIsKilledAndSaysWhenItWasDown(t *testing.T) {
	pool := testkit.DB(t)
	st := store.New(pool, nil)
	ctx, cancel := context.WithCancel(t.Context())
	log := &followLog{change: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.KeepListening(ctx, store.Following{
			Open: func(ctx context.Context) (store.Waiter, error) {
				l, err := st.Listen(ctx, "follow_test")
				if err != nil {
					return nil, err
				}
				return l, nil
			},
			Up:     func() { log.add("up") },
			Notify: func(n *pgconn.Notification) { log.add("notified " + n.Payload) },
			Down:   func() { log.add("down") },
			Lost:   func(error) { log.add("lost") },
		})
	}()
	log.await(t, "up")
	testkit.Exec(t, pool, `SELECT pg_notify('follow_test', 'one')`)
	log.await(t, "up", "notified one")
	testkit.Exec(t, pool, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`)
	log.await(t, "up", "notified one", "down", "lost", "up")
	testkit.Exec(t, pool, `SELECT pg_notify('follow_test', 'two')`)
	log.await(t, "up", "notified one", "down", "lost", "up", "notified two")
	cancel()
	<-done
	// Down at the end too, so whoever trusts state while Up stops trusting.
	log.await(t, "up", "notified one", "down", "lost", "up", "notified two", "down")
}
