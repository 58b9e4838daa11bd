package intake

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"presencebridge/internal/certs"
	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// logRecorder keeps every log record, to count lines per message.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// lines counts the records with message msg, and gives their attributes.
func (l *logRecorder) lines(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		out = append(out, attrs)
	}
	return out
}

func counted(t *testing.T, v *prometheus.CounterVec, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := v.WithLabelValues(reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// countingLoader counts certificate loads, each taking a while (as a
// database round trip and the private keys' unsealing do).
type countingLoader struct {
	certs *certs.Manager
	loads atomic.Int32
	delay time.Duration
}

func (c *countingLoader) LoadFrom(ctx context.Context, q *store.Store, keys *notification.Keys) error {
	c.loads.Add(1)
	time.Sleep(c.delay)
	return c.certs.LoadFrom(ctx, q, keys)
}

// The first engine pass makes the certificate and at once the
// subscription; Graph may notify before the processor's periodic reload.
func TestAnItemForACertificateMadeAfterTheKeysLoadedIsDecryptedInTheSameBatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cm := certs.New(f.st, nil)
	keys := notification.NewKeys()
	if err := cm.Load(ctx, keys); err != nil { // none yet
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	loader := &countingLoader{certs: cm}
	p := NewProcessor(f.st, ProcessorOptions{Keys: keys, Certs: loader, Tokens: tokens{}, Metrics: metrics, Batch: 10})

	fresh, err := cm.Active(ctx) // made by the engine, perhaps in another instance
	if err != nil {
		t.Fatal(err)
	}
	users := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, u := range users {
		f.inbox(t, "change", f.richFor(t, fresh, u, "Busy", "InACall", "1"))
	}
	st, err := p.ProcessBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 3 || st.Rejected != 0 || st.Resync != 0 {
		t.Fatalf("stats = %+v, want the three items applied in the batch that met the new certificate", st)
	}
	for _, u := range users {
		if pr, err := f.st.GetPresence(ctx, f.tenant, u); err != nil || pr.MappedState != "talking" {
			t.Errorf("user %s: %+v %v", u, pr, err)
		}
	}
	if n := loader.loads.Load(); n != 1 {
		t.Errorf("certificates loaded %d times for one batch's misses, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM presence_resync`); n != 0 {
		t.Errorf("%d re-reads queued for items that decrypted", n)
	}
}

// Misses in concurrent batches share reloads rather than each making one.
func TestConcurrentMissesShareCertificateReloads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cm := certs.New(f.st, nil)
	loader := &countingLoader{certs: cm, delay: 200 * time.Millisecond}
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(), Certs: loader, Tokens: tokens{}, Batch: 1})
	fresh, err := cm.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const batches = 8
	for range batches {
		f.inbox(t, "change", f.richFor(t, fresh, uuid.New(), "Busy", "InACall", "1"))
	}
	var wg sync.WaitGroup
	var applied atomic.Int32
	for range batches {
		wg.Go(func() {
			st, err := p.ProcessBatch(ctx)
			if err != nil {
				t.Error(err)
			}
			applied.Add(int32(st.Applied))
		})
	}
	wg.Wait()
	if applied.Load() != batches {
		t.Fatalf("applied %d of %d", applied.Load(), batches)
	}
	// One load for the misses that met in flight, and at most one more
	// for those that joined a load begun before they missed.
	if n := loader.loads.Load(); n > batches/2 {
		t.Errorf("%d certificate loads for %d concurrent misses", n, batches)
	}
}

// A certificate unknown even after the reload: the item's user is re-read
// (what the item carried comes back that way), counted and logged once;
// without a user to re-read, the item is dropped, counted and logged once.
func TestAnItemForAnUnknownCertificateQueuesItsUserForARereadAndIsCounted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	logs := &logRecorder{}
	loader := &countingLoader{certs: certs.New(f.st, nil)}
	// f.key is in no database: no instance of ours ever made it.
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(), Certs: loader, Tokens: tokens{}, Metrics: metrics,
		Logger: slog.New(logs), Batch: 10})
	u := uuid.New()
	anonymous := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	delete(anonymous, "resourceData")
	f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "1"), anonymous)
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 0 || st.Resync != 1 || st.Rejected != 1 {
		t.Fatalf("stats = %+v, want one re-read and one drop", st)
	}
	var reason string
	if err := f.pool.QueryRow(ctx, `SELECT reason FROM presence_resync WHERE tenant_id = $1 AND user_object_id = $2`, f.tenant, u).Scan(&reason); err != nil {
		t.Fatalf("the user was not queued for a re-read: %v", err)
	}
	if reason != "unknown encryption certificate" {
		t.Errorf("re-read reason = %q", reason)
	}
	if n := counted(t, metrics.resync, ResyncUnknownCertificate); n != 1 {
		t.Errorf("re-reads counted for unknown certificates = %v, want 1", n)
	}
	if n := counted(t, metrics.dropped, DropUnknownCertificate); n != 1 {
		t.Errorf("drops counted for unknown certificates = %v, want 1", n)
	}
	if n := loader.loads.Load(); n != 1 {
		t.Errorf("certificates loaded %d times, want 1 (the reload that did not find it)", n)
	}
	dropped := logs.lines("intake: notification item dropped")
	queued := logs.lines("intake: notification item not decrypted; user queued for a presence re-read")
	if len(dropped) != 1 || len(queued) != 1 {
		t.Fatalf("log lines: %d dropped, %d queued; want one each", len(dropped), len(queued))
	}
	for _, attrs := range []map[string]string{dropped[0], queued[0]} {
		if attrs["subscription"] != "sub-1" || attrs["ms_tenant"] != f.msTenant.String() || attrs["tenant"] != f.tenant.String() {
			t.Errorf("log line does not name the subscription and both tenants: %v", attrs)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("inbox rows left: %d", n)
	}
}

// Every item dropped is counted by its reason, and logged once even when
// its batch is tried again after a failure.
func TestDroppedItemsAreCountedByReasonAndLoggedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	metrics := NewMetrics(prometheus.NewRegistry())
	logs := &logRecorder{}
	opts := ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Metrics: metrics, Logger: slog.New(logs), Batch: 10}
	p := NewProcessor(f.st, opts)

	tampered := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	ec := tampered["encryptedContent"].(notification.EncryptedContent)
	ec.DataSignature = "AAAA" + ec.DataSignature[4:]
	tampered["encryptedContent"] = ec
	foreign := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	foreign["tenantId"] = uuid.New()
	swapped := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	swapped["resourceData"] = map[string]any{"id": uuid.New()}
	stranger := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	stranger["subscriptionId"], stranger["clientState"] = "sub-unknown", "other"
	basicNoUser := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	delete(basicNoUser, "encryptedContent")
	delete(basicNoUser, "resourceData")
	f.inbox(t, "change", tampered, foreign, swapped, stranger, basicNoUser)
	if _, err := f.pool.Exec(ctx, `INSERT INTO inbox (kind, payload, items) VALUES ('change', '{"value": 7}', 1)`); err != nil {
		t.Fatal(err)
	}
	// The first try fails after judging the items (keys for validation
	// tokens unavailable on the second row): nothing may be counted yet.
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"))
	down := NewProcessor(f.st, ProcessorOptions{Keys: opts.Keys, Tokens: tokens{down: true}, Metrics: metrics, Logger: slog.New(logs), Batch: 10})
	if _, err := down.ProcessBatch(ctx); err == nil {
		t.Fatal("a batch whose validation keys are unavailable succeeded")
	}
	if n := len(logs.lines("intake: notification item dropped")); n != 0 {
		t.Fatalf("%d drops logged for a batch that rolled back", n)
	}
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != 6 || st.Applied != 1 {
		t.Errorf("stats = %+v, want 6 rejected and the genuine one applied", st)
	}
	bad := NewProcessor(f.st, ProcessorOptions{Keys: opts.Keys, Tokens: tokens{bad: true}, Metrics: metrics, Logger: slog.New(logs)})
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"), f.rich(t, uuid.New(), "Away", "Away", "1"))
	if _, err := bad.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{DropNotDecrypted: 1, DropTenantMismatch: 1, DropUserMismatch: 1, DropUnknownSubscription: 1,
		DropNoUser: 1, DropUnreadable: 1, DropBadValidationToken: 2, DropUnknownCertificate: 0, DropMalformed: 0}
	total := 0.0
	for reason, n := range want {
		if got := counted(t, metrics.dropped, reason); got != n {
			t.Errorf("dropped{reason=%q} = %v, want %v", reason, got, n)
		}
		total += n
	}
	if n := len(logs.lines("intake: notification item dropped")); float64(n) != total {
		t.Errorf("%d drop lines logged for %v drops", n, total)
	}
}

// A PUT of mapping rules applies to the very next change: no cache to
// expire, no clock to move.
func TestAMappingRuleChangeAppliesToTheVeryNextNotification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}})
	state := func(rules string) string {
		t.Helper()
		if rules != "" {
			if err := f.st.PutMappingRules(ctx, f.tenant, []byte(rules)); err != nil {
				t.Fatal(err)
			}
		}
		u := uuid.New()
		f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "1"))
		if st, err := p.Drain(ctx); err != nil || st.Applied != 1 {
			t.Fatalf("stats = %+v %v", st, err)
		}
		pr, err := f.st.GetPresence(ctx, f.tenant, u)
		if err != nil {
			t.Fatal(err)
		}
		return pr.MappedState
	}
	if s := state(""); s != "talking" {
		t.Fatalf("with the default rules a call is %q, want talking", s)
	}
	if s := state(`{"talkingInCall": false}`); s != "busy" {
		t.Errorf("right after calls stopped counting as talking: %q, want busy", s)
	}
	// Changed back at once (within the same clock tick as far as the
	// processor can tell): still the rules just saved.
	if s := state(`{"talkingInCall": true}`); s != "talking" {
		t.Errorf("right after calls count as talking again: %q, want talking", s)
	}
	if s := state(`{"talkingInCall": true, "overrides": {"Busy/InACall": "dnd"}}`); s != "dnd" {
		t.Errorf("right after an override: %q, want dnd", s)
	}
}
