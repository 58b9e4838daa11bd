//go:build faults

package faults

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// (g) The telephony platform is slow (10 s an answer in the full form),
// answers 429 with Retry-After, or answers 410 (gone: the endpoint is
// disabled, its deliveries dead-lettered, and replayed once it is
// enabled again). Nothing acknowledged is lost, each user's webhooks stay
// in order, a retry waits for Retry-After, and every user's last state
// reaches the platform.
func TestDownstreamSlowThrottlingAndGoneLoseNothing(t *testing.T) {
	slow := 2 * time.Second
	if full() {
		slow = 10 * time.Second
	}
	const retryAfter = 2 // seconds
	always := func(a Answer) func() func(Arrival) Answer {
		return func() func(Arrival) Answer { return func(Arrival) Answer { return a } }
	}
	cases := []struct {
		name   string
		answer func() func(Arrival) Answer
		gone   bool
		lasts  bool // the answers go on to the end: the platform never recovers
	}{
		{"slow", always(Answer{Status: http.StatusNoContent, Delay: slow}), false, false},
		// Each webhook's first attempt, to the end: a user's newer state
		// supersedes most of them, the last state of each is retried.
		{"429 with Retry-After", firstAttempt(Answer{Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(retryAfter)}), false, true},
		{"410", always(Answer{Status: http.StatusGone}), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sized()
			w := Start(t, Options{Users: s.users})
			tr := w.Drive(s.rate)
			time.Sleep(s.load / 2)
			w.Receiver.SetAnswer(c.answer())
			time.Sleep(s.load)
			if !c.lasts {
				w.Receiver.SetAnswer(nil)
			}
			if c.gone {
				w.replayAfterGone(t)
			}
			time.Sleep(s.load / 2)
			t.Logf("%d presence changes", tr.Stop())
			// A receiver that answers every new webhook 429 with
			// Retry-After: 2 gets, honoured for the whole endpoint, the
			// requests already under way (PerEndpoint, 4) every 2–3 s; each
			// user's last state needs two or three (its older head's failure,
			// then its own 429 and retry): 60 s left 2 of 25 pending.
			settle := 60 * time.Second
			if strings.HasPrefix(c.name, "429") {
				settle = 3 * time.Minute
			}
			// Under the full form's load the two processors may apply a
			// user's newer version before an older one (overtaken): latest
			// state wins; nothing here is about intake order.
			w.Check(w.Settle(settle), Expect{Dead: c.gone, Overtaken: true})
			if strings.HasPrefix(c.name, "429") {
				checkRetryAfter(t, w.Receiver.Arrivals(), retryAfter*time.Second)
			}
		})
	}
}

// firstAttempt answers a webhook's first arrival with a, and 204 after.
func firstAttempt(a Answer) func() func(Arrival) Answer {
	return func() func(Arrival) Answer {
		var mu sync.Mutex
		seen := map[string]bool{}
		return func(x Arrival) Answer {
			mu.Lock()
			defer mu.Unlock()
			if seen[x.WebhookID] {
				return Answer{Status: http.StatusNoContent}
			}
			seen[x.WebhookID] = true
			return a
		}
	}
}

// replayAfterGone enables the endpoint a 410 disabled and replays its
// dead deliveries, as the platform's operator would once it is back.
func (w *World) replayAfterGone(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	ep, err := w.ReceiverEndpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Enabled {
		t.Fatalf("the endpoint is still enabled after answering 410")
	}
	if _, err := w.API(ctx, http.MethodPost, "/endpoints/"+ep.ID+"/enable", nil, nil); err != nil {
		t.Fatal(err)
	}
	var replayed map[string]any
	if _, err := w.API(ctx, http.MethodPost, "/endpoints/"+ep.ID+"/replay", map[string]any{}, &replayed); err != nil {
		t.Fatal(err)
	}
	t.Logf("endpoint enabled again and replayed: %v", replayed)
}

// checkRetryAfter fails t when a webhook answered 429 came again sooner
// than the Retry-After asked, or another webhook reached the endpoint well
// within it.
func checkRetryAfter(t *testing.T, arrivals []Arrival, wait time.Duration) {
	t.Helper()
	throttled := map[string]time.Time{}
	early, honoured := 0, 0
	for _, a := range arrivals {
		if at, ok := throttled[a.WebhookID]; ok {
			if a.At.Sub(at) < wait-100*time.Millisecond {
				early++
				t.Errorf("webhook %s came again %v after a 429 asking for %v", a.WebhookID, a.At.Sub(at).Round(time.Millisecond), wait)
			} else {
				honoured++
			}
			delete(throttled, a.WebhookID)
		}
		if a.Status == http.StatusTooManyRequests {
			throttled[a.WebhookID] = a.At
		}
	}
	// Retry-After speaks of the endpoint, not of one request (RFC 6585,
	// RFC 9110 §10.2.3): nothing new is sent to it until it ends (the
	// deliverer's throttle, the claims' hold). A request already on its way
	// when the 429 came back still arrives: one more than 100 ms after it
	// is told, one more than half the wait after it is judged — it was sent
	// long after the endpoint asked us to wait.
	others, late := 0, 0
	for i, a := range arrivals {
		if a.Status != http.StatusTooManyRequests {
			continue
		}
		for _, b := range arrivals[i+1:] {
			if b.At.Sub(a.At) >= wait {
				break
			}
			if b.WebhookID != a.WebhookID && b.At.Sub(a.At) > 100*time.Millisecond {
				others++
				if b.At.Sub(a.At) <= wait/2 {
					continue
				}
				if late++; late <= 5 {
					t.Errorf("webhook %s reached the endpoint %v after a 429 (webhook %s) asking for %v", b.WebhookID,
						b.At.Sub(a.At).Round(time.Millisecond), a.WebhookID, wait)
				}
			}
		}
	}
	t.Logf("Retry-After: %d retries waited for it, %d did not; other webhooks within a Retry-After of a 429: %d after 100 ms, %d after half of it",
		honoured, early, others, late)
	if honoured == 0 {
		t.Error("no webhook was retried after a 429: the check saw nothing")
	}
}
