package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// WebhookReceiver stands for the telephony platform's webhook endpoint: it
// records every request (headers and body) and answers 204.
type WebhookReceiver struct {
	URL string

	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
}

// NewWebhookReceiver serves a WebhookReceiver on loopback until the test
// ends.
func NewWebhookReceiver(t testing.TB) *WebhookReceiver {
	t.Helper()
	wr := &WebhookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		wr.mu.Lock()
		wr.headers, wr.bodies = append(wr.headers, r.Header.Clone()), append(wr.bodies, b)
		wr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	wr.URL = srv.URL + "/presence"
	return wr
}

// Count is how many requests arrived.
func (wr *WebhookReceiver) Count() int {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return len(wr.bodies)
}

// Last is the last request's headers and body; the test fails when none
// arrived.
func (wr *WebhookReceiver) Last(t testing.TB) (http.Header, []byte) {
	t.Helper()
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if len(wr.bodies) == 0 {
		t.Fatal("testkit: the webhook receiver got nothing")
	}
	return wr.headers[len(wr.headers)-1], wr.bodies[len(wr.bodies)-1]
}

// LastVerifies reports whether the last request's webhook-signature
// verifies with secret (whsec_…), by the Standard Webhooks reference
// library.
func (wr *WebhookReceiver) LastVerifies(t testing.TB, secret string) bool {
	t.Helper()
	header, body := wr.Last(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("testkit: secret %q: %v", secret, err)
	}
	return wh.Verify(body, header) == nil
}
