package deliver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/testkit"
)

// byUser is a receiver that answers each request as its user's answer
// function says, and records when each user's requests arrived.
type byUser struct {
	secret string
	srv    *httptest.Server
	mu     sync.Mutex
	at     map[uuid.UUID][]time.Time
}

func newByUser(t *testing.T, answer func(user uuid.UUID, n int) (int, http.Header)) *byUser {
	t.Helper()
	secret, _ := NewSecret()
	r := &byUser{secret: secret, at: map[uuid.UUID][]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var ev presence.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("a webhook that is not an event: %v", err)
		}
		user := ev.Data.User.ObjectID
		r.mu.Lock()
		r.at[user] = append(r.at[user], time.Now())
		n := len(r.at[user])
		r.mu.Unlock()
		status, h := answer(user, n)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *byUser) requests(user uuid.UUID) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time{}, r.at[user]...)
}

// TestASuccessAfterA429DoesNotBringTheThrottledDeliveryBackBeforeItsRetryAfter:
// two users' deliveries go to one endpoint at once; the first is answered
// 429 with Retry-After: 60, the second 204 once that 429 is recorded. The
// success "recovers" the endpoint this process had just seen fail, which
// made every pending delivery of it due at once (store.RetryEndpoint) —
// the throttled one too, sent again in the next round. The fault suite's
// scenario (g) saw it as two retries 19 and 22 ms after a 429 asking for
// 2 s (FAULTS.md, bug 4): each webhook's first attempt there is answered
// 429 and its retry 204, so a retry's success came within the Retry-After
// of another webhook's 429 whenever their sends overlapped.
func TestASuccessAfterA429DoesNotBringTheThrottledDeliveryBackBeforeItsRetryAfter(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	throttled, other := uuid.New(), uuid.New()
	var d *Deliverer
	r := newByUser(t, func(user uuid.UUID, n int) (int, http.Header) {
		if user == throttled {
			if n == 1 {
				return http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}}
			}
			return http.StatusNoContent, nil
		}
		// Answer once the 429 is recorded: its delivery failed, and this
		// process's circuit knows the endpoint as failing.
		for deadline := time.Now().Add(20 * time.Second); !d.failing(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the 429 was never recorded")
				break
			}
		}
		return http.StatusNoContent, nil
	})
	ep := f.endpoint(t, f.tenant, &receiver{srv: r.srv, secret: r.secret})
	d = New(f.st, Options{AllowPrivate: true})
	f.change(t, f.tenant, throttled, "Busy", "InACall", "talking")
	f.change(t, f.tenant, other, "Busy", "InACall", "talking")

	if n, err := d.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("the first round claimed %d (%v), want both deliveries", n, err)
	}
	if got := r.requests(throttled); len(got) != 1 {
		t.Fatalf("the throttled user's delivery arrived %d times in the first round, want once", len(got))
	}
	if got := r.requests(other); len(got) != 1 {
		t.Fatalf("the other user's delivery arrived %d times in the first round, want once", len(got))
	}
	var wait time.Duration
	if err := f.pool.QueryRow(ctx, `SELECT extract(epoch FROM next_attempt_at - now()) * interval '1 s' FROM deliveries
		WHERE endpoint_id = $1 AND user_object_id = $2`, ep, throttled).Scan(&wait); err != nil {
		t.Fatal(err)
	}
	if wait < 50*time.Second {
		t.Errorf("the throttled delivery is due in %v, want no sooner than its Retry-After (60 s, less the time this test took)", wait.Round(time.Millisecond))
	}
	if n, err := d.RunOnce(ctx); n != 0 || err != nil {
		t.Errorf("a round right after claimed %d deliveries (%v), want none: the endpoint asked for 60 s", n, err)
	}
	if got := r.requests(throttled); len(got) != 1 {
		t.Errorf("the throttled delivery was sent again %v after its 429 asking for 60 s", got[1].Sub(got[0]).Round(time.Millisecond))
	}
}

// TestARetryAfterHoldsTheWholeEndpointInEveryProcess: a 429 with
// Retry-After speaks of the endpoint, not of the one request (RFC 6585:
// "how long to wait before making a new request"), so after one user's
// delivery is answered 429 with Retry-After: 60, another user's change
// made afterwards is not sent before the 60 s are over — neither by this
// process nor by another whose circuit never saw the 429 (its claim reads
// the endpoint's hold, store.HoldEndpoint) nor as a probe. Once the hold
// ends (moved to now here), it goes out at once.
func TestARetryAfterHoldsTheWholeEndpointInEveryProcess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, second := uuid.New(), uuid.New()
	r := newByUser(t, func(user uuid.UUID, n int) (int, http.Header) {
		if user == first && n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}}
		}
		return http.StatusNoContent, nil
	})
	ep := f.endpoint(t, f.tenant, &receiver{srv: r.srv, secret: r.secret})
	here, there := New(f.st, Options{AllowPrivate: true}), New(f.st, Options{AllowPrivate: true})
	f.change(t, f.tenant, first, "Busy", "InACall", "talking")
	if n, err := here.RunOnce(ctx); n != 1 || err != nil || len(r.requests(first)) != 1 {
		t.Fatalf("the first round claimed %d (%v) and sent %d, want the one delivery", n, err, len(r.requests(first)))
	}

	f.change(t, f.tenant, second, "Away", "Away", "away")
	for name, d := range map[string]*Deliverer{"the process that saw the 429": here, "another process": there} {
		if n, err := d.RunOnce(ctx); n != 0 || err != nil {
			t.Errorf("%s claimed %d deliveries (%v) within the endpoint's Retry-After of 60 s, want none", name, n, err)
		}
	}
	if dl, ok, err := f.st.ClaimProbe(ctx, ep, time.Minute); ok || err != nil {
		t.Errorf("a probe claimed delivery %d (%v) within the endpoint's Retry-After", dl.ID, err)
	}
	if got := r.requests(second); len(got) != 0 {
		t.Fatalf("the other user's change was sent %d times within the endpoint's Retry-After of 60 s", len(got))
	}

	// The hold over, the other user's change goes out at once; the
	// throttled delivery keeps its own Retry-After.
	testkit.Exec(t, f.pool, `UPDATE endpoint_retry_after SET until = now() WHERE endpoint_id = $1`, ep)
	if n, err := there.RunOnce(ctx); n != 1 || err != nil || len(r.requests(second)) != 1 {
		t.Errorf("once the hold ended a round claimed %d (%v) and sent the other user's change %d times, want it once",
			n, err, len(r.requests(second)))
	}
	if got := r.requests(first); len(got) != 1 {
		t.Errorf("the throttled delivery was sent %d times, want once: its own Retry-After has not passed", len(got))
	}
}

// TestADeliveryWaitingForASlotWhenItsEndpointAnswers429IsPutBack: with
// one request at a time to the endpoint, two users' deliveries are
// claimed together; the first sent is answered 429 with Retry-After: 60,
// so the other, which was waiting for the slot, is not sent then but put
// back until the hold ends, without spending an attempt.
func TestADeliveryWaitingForASlotWhenItsEndpointAnswers429IsPutBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []uuid.UUID
	r := newByUser(t, func(user uuid.UUID, n int) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if got = append(got, user); len(got) == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"60"}}
		}
		return http.StatusNoContent, nil
	})
	f.endpoint(t, f.tenant, &receiver{srv: r.srv, secret: r.secret})
	d := New(f.st, Options{AllowPrivate: true, PerEndpoint: 1})
	f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	f.change(t, f.tenant, uuid.New(), "Away", "Away", "away")
	if n, err := d.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("the round claimed %d (%v), want both deliveries", n, err)
	}
	mu.Lock()
	sent := len(got)
	mu.Unlock()
	if sent != 1 {
		t.Errorf("%d requests reached the endpoint, want 1: the second waited for the slot while the first was answered 429 with Retry-After: 60", sent)
	}
	var attempts int
	var wait time.Duration
	if err := f.pool.QueryRow(ctx, `SELECT attempts, extract(epoch FROM next_attempt_at - now()) * interval '1 s' FROM deliveries
		WHERE status = 'pending' ORDER BY attempts LIMIT 1`).Scan(&attempts, &wait); err != nil {
		t.Fatal(err)
	}
	if attempts != 0 || wait < 50*time.Second {
		t.Errorf("the delivery that waited has %d attempts and is due in %v, want 0 and after the endpoint's hold (60 s)", attempts, wait.Round(time.Millisecond))
	}
}
