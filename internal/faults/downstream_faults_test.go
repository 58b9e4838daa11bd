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
			// Under the full form's load the two processors may apply a
			// user's newer version before an older one (overtaken): latest
			// state wins; nothing here is about intake order.
			w.Check(w.Settle(60*time.Second), Expect{Dead: c.gone, Overtaken: true})
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
// than the Retry-After asked.
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
	// RFC 9110 §10.2.3); what else reached it meanwhile is told, not judged:
	// the product promises it for the retried delivery.
	others := 0
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
			}
		}
	}
	t.Logf("Retry-After: %d retries waited for it, %d did not; other webhooks within a Retry-After of a 429: %d", honoured, early, others)
	if honoured == 0 {
		t.Error("no webhook was retried after a 429: the check saw nothing")
	}
}
