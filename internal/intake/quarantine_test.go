package intake

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// poisoned is a notification that fails every time it is applied: its
// presence's activity holds a NUL, which PostgreSQL's text refuses. It
// stands for any row the processor cannot get through, whatever the cause.
func (f *fixture) poisoned(t *testing.T, user uuid.UUID) map[string]any {
	t.Helper()
	return f.rich(t, user, "Busy", "InACall\x00", "1")
}

// total is a counter's value.
func total(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// due makes every inbox row waiting out a failure's backoff due now, as
// if the wait had passed.
func (f *fixture) due(t *testing.T) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE inbox SET retry_at = now() WHERE retry_at > now()`); err != nil {
		t.Fatal(err)
	}
}

// TestAPoisonedInboxRowDoesNotHoldBackTheRowsBehindIt: a row that fails
// whatever is tried alone, so the rows in its batch and behind it are
// applied in the same drain; it keeps its place with its attempt counted
// and the error, and waits before it is tried again (issue 15: the batch
// failed whole, every time, and the inbox stopped there).
func TestAPoisonedInboxRowDoesNotHoldBackTheRowsBehindIt(t *testing.T) {
	f := newFixture(t)
	logs := &logRecorder{}
	metrics := NewMetrics(prometheus.NewRegistry())
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Metrics: metrics, Logger: slog.New(logs)})
	ctx := context.Background()
	f.inbox(t, "change", f.poisoned(t, uuid.New()))
	for range 3 {
		f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"))
	}
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	if st.Applied != 3 || st.Failed != 1 || st.Quarantined != 0 {
		t.Errorf("stats = %+v, want the 3 rows behind applied and 1 failure", st)
	}
	var attempts int
	var lastError string
	var waits bool
	if err := f.pool.QueryRow(ctx, `SELECT attempts, last_error, retry_at > now() FROM inbox`).Scan(&attempts, &lastError, &waits); err != nil {
		t.Fatalf("the poisoned row: %v", err)
	}
	if attempts != 1 || !strings.Contains(lastError, "0x00") || !waits {
		t.Errorf("the poisoned row: %d attempts, error %q, waiting %v; want 1, the database's error, waiting", attempts, lastError, waits)
	}
	if got := total(t, metrics.failures); got != 1 {
		t.Errorf("failures counted: %v, want 1", got)
	}
	if n := len(logs.lines("intake: inbox row failed; it will be tried again")); n != 1 {
		t.Errorf("%d failure lines logged, want 1", n)
	}
	if st, err := p.Drain(ctx); err != nil || st.Rows != 0 {
		t.Errorf("a drain during the row's wait: %+v, %v; want nothing tried", st, err)
	}
}

// TestAnInboxRowIsQuarantinedAfterMaxAttemptsKeptCountedAndReplayable:
// the row that fails MaxAttempts times leaves the inbox for the
// quarantine, kept whole with its reason and last error, counted and
// logged once; a failure that is no row's fault (the identity platform's
// keys unavailable) counts no attempt; a replay puts it back in the inbox
// where, once it can be applied, it is.
func TestAnInboxRowIsQuarantinedAfterMaxAttemptsKeptCountedAndReplayable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	logs := &logRecorder{}
	metrics := NewMetrics(prometheus.NewRegistry())
	opts := ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Metrics: metrics, Logger: slog.New(logs)}
	p := NewProcessor(f.st, opts)
	f.inbox(t, "change", f.poisoned(t, uuid.New()))

	down := NewProcessor(f.st, ProcessorOptions{Keys: opts.Keys, Tokens: tokens{down: true}, Metrics: metrics})
	if _, err := down.Drain(ctx); err == nil {
		t.Fatal("a drain without the identity platform's keys succeeded")
	}
	if n := f.count(t, `SELECT attempts FROM inbox`); n != 0 {
		t.Fatalf("keys unavailable counted %d attempts against the row", n)
	}
	for i := range MaxAttempts {
		if _, err := p.Drain(ctx); err != nil {
			t.Fatalf("drain %d: %v", i+1, err)
		}
		f.due(t)
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 0 {
		t.Fatalf("%d rows still in the inbox after %d failures", n, MaxAttempts)
	}
	q, err := f.st.QuarantinedInbox(ctx, 10)
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantined: %+v, %v", q, err)
	}
	if q[0].Reason != QuarantineFailed || q[0].Attempts != MaxAttempts || !strings.Contains(q[0].Error, "0x00") || q[0].Items != 1 ||
		!json.Valid(q[0].Payload) || !strings.Contains(string(q[0].Payload), "encryptedContent") {
		t.Errorf("quarantined row: %+v", q[0])
	}
	if got := counted(t, metrics.quarantined, QuarantineFailed); got != 1 {
		t.Errorf("quarantined counted: %v, want 1", got)
	}
	if n := len(logs.lines("intake: inbox row quarantined")); n != 1 {
		t.Errorf("%d quarantine lines logged, want 1", n)
	}

	// Whatever poisoned it is fixed (here: the row is made applicable).
	if _, err := f.pool.Exec(ctx, `UPDATE inbox_quarantine SET payload = $1`, f.payload(t, f.rich(t, uuid.New(), "Busy", "InACall", "1"))); err != nil {
		t.Fatal(err)
	}
	if n, err := ReplayQuarantined(ctx, f.st, []int64{q[0].ID}, "staff:ops@vendor.example"); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if st, err := p.Drain(ctx); err != nil || st.Applied != 1 {
		t.Errorf("after the replay: %+v, %v; want it applied", st, err)
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'inbox.replayed' AND actor = 'staff:ops@vendor.example'`); n != 1 {
		t.Errorf("%d audit entries for the replay", n)
	}
}

// TestAPostWithABadValidationTokenIsQuarantinedNotDeleted: its items are
// not applied (nothing in it can be trusted) but the row is kept with its
// reason, so support can see what Graph sent; a replay tries it again
// (after an own app registration was recorded, say), and a row that is
// no notification collection at all is kept the same way (issue 15: both
// were deleted without a trace).
func TestAPostWithABadValidationTokenIsQuarantinedNotDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	metrics := NewMetrics(prometheus.NewRegistry())
	keys := notification.NewKeys(f.key)
	strict := NewProcessor(f.st, ProcessorOptions{Keys: keys, Tokens: tokens{bad: true}, Metrics: metrics})
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"), f.rich(t, uuid.New(), "Away", "Away", "1"))
	if _, err := f.pool.Exec(ctx, `INSERT INTO inbox (kind, payload, items) VALUES ('change', '{"value": 7}', 1)`); err != nil {
		t.Fatal(err)
	}
	st, err := strict.Drain(ctx)
	if err != nil || st.Applied != 0 || st.Quarantined != 2 {
		t.Fatalf("drain: %+v, %v; want nothing applied and both rows quarantined", st, err)
	}
	q, err := f.st.QuarantinedInbox(ctx, 10)
	if err != nil || len(q) != 2 {
		t.Fatalf("quarantined: %+v, %v", q, err)
	}
	reasons := map[string]store.QuarantinedInboxRow{}
	for _, r := range q {
		reasons[r.Reason] = r
	}
	bad, unreadable := reasons[QuarantineBadValidationToken], reasons[QuarantineUnreadable]
	if bad.Items != 2 || !strings.Contains(bad.Error, notification.ErrInvalidToken.Error()) || !strings.Contains(string(bad.Payload), "validationTokens") {
		t.Errorf("the bad token's row: %+v", bad)
	}
	if unreadable.Error == "" || string(unreadable.Payload) != `{"value": 7}` {
		t.Errorf("the unreadable row: %+v", unreadable)
	}
	if counted(t, metrics.quarantined, QuarantineBadValidationToken) != 1 || counted(t, metrics.quarantined, QuarantineUnreadable) != 1 {
		t.Error("the quarantines are not counted by reason")
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("%d rows left in the inbox", n)
	}

	if n, err := ReplayQuarantined(ctx, f.st, nil, "staff:ops@vendor.example"); err != nil || n != 2 {
		t.Fatalf("replay all: %d, %v", n, err)
	}
	p := NewProcessor(f.st, ProcessorOptions{Keys: keys, Tokens: tokens{}, Metrics: metrics})
	if st, err := p.Drain(ctx); err != nil || st.Applied != 2 || st.Quarantined != 1 {
		t.Errorf("after the replay, with the tokens good: %+v, %v; want the 2 items applied and the unreadable row back in quarantine", st, err)
	}
}

// TestAQuarantinedPayloadIsShownWithoutItsClientStates: what support sees
// of a quarantined POST is what Graph sent but the secret clientStates.
func TestAQuarantinedPayloadIsShownWithoutItsClientStates(t *testing.T) {
	in := `{"value":[{"subscriptionId":"sub-1","clientState":"s3cret","resource":"r"},{"subscriptionId":"sub-2"}],"validationTokens":["t"]}`
	out := string(RedactedPayload([]byte(in)))
	if strings.Contains(out, "s3cret") || !strings.Contains(out, `"clientState":"[redacted]"`) || !strings.Contains(out, `"sub-2"`) ||
		!strings.Contains(out, `"validationTokens":["t"]`) {
		t.Errorf("redacted: %s", out)
	}
	if out := string(RedactedPayload([]byte(`{"value": 7}`))); out != `{"value": 7}` {
		t.Errorf("an unreadable payload: %s", out)
	}
}
