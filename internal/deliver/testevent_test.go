package deliver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestATestEventArrivesSignedAndIsNotStored: the receiver gets a
// presence.test event that verifies with the endpoint's secret; the answer
// says how it went; no delivery or presence event is written.
func TestATestEventArrivesSignedAndIsNotStored(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	ep := f.endpoint(t, f.tenant, r)
	res, err := New(f.st, Options{AllowPrivate: true}).SendTest(ctx, f.tenant, ep)
	if err != nil || res.Status != http.StatusNoContent || res.Error != "" || res.Latency <= 0 {
		t.Fatalf("SendTest = %+v, %v", res, err)
	}
	got := r.all()
	if len(got) != 1 {
		t.Fatalf("received %d requests", len(got))
	}
	wh, _ := standardwebhooks.NewWebhook(r.secret)
	if err := wh.Verify(got[0].body, got[0].header); err != nil {
		t.Errorf("the test event does not verify: %v", err)
	}
	var ev TestEvent
	if err := json.Unmarshal(got[0].body, &ev); err != nil || ev.Type != TestEventType || ev.Data.EndpointID != ep ||
		ev.Data.TenantID != f.tenant || ev.Data.EventID != res.EventID || got[0].header.Get("webhook-id") != res.EventID.String() {
		t.Errorf("test event %s (%v), webhook-id %q, result %+v", got[0].body, err, got[0].header.Get("webhook-id"), res)
	}
	var stored int
	f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM presence_events)`).Scan(&stored)
	if stored != 0 {
		t.Errorf("%d rows stored for a test event, want none", stored)
	}
	if _, err := New(f.st, Options{AllowPrivate: true}).SendTest(ctx, f.tenant, uuid.New()); err == nil {
		t.Error("a test event to no endpoint did not fail")
	}
}

// TestARefusalIsReportedWithTheEndpointsAnswer: a test event the endpoint
// refuses reports its status and the start of its body; an address the
// deliverer may not reach is reported without a request.
func TestARefusalIsReportedWithTheEndpointsAnswer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, func(int) (int, http.Header) { return http.StatusUnauthorized, nil })
	r.answer = strings.Repeat("bad signature ", 100)
	ep := f.endpoint(t, f.tenant, r)
	res, err := New(f.st, Options{AllowPrivate: true}).SendTest(ctx, f.tenant, ep)
	if err != nil || res.Status != http.StatusUnauthorized || !strings.HasPrefix(res.Error, "HTTP 401: bad signature") ||
		len(res.Error) > maxAnswerBody+len("HTTP 401: ") {
		t.Errorf("refused: %+v, %v", res, err)
	}
	res, err = New(f.st, Options{}).SendTest(ctx, f.tenant, ep)
	if err != nil || res.Status != 0 || !strings.Contains(res.Error, "not public") || len(r.all()) != 1 {
		t.Errorf("loopback without AllowPrivate: %+v, %v (%d requests)", res, err, len(r.all()))
	}
}
