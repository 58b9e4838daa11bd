package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type tokens struct{ bad, down bool }

func (t tokens) Check(toks []string, _ []notification.Expect) error {
	switch {
	case t.down:
		return notification.ErrKeysUnavailable
	case t.bad || len(toks) == 0:
		return notification.ErrInvalidToken
	}
	return nil
}

type fixture struct {
	pool     *pgxpool.Pool
	st       *store.Store
	key      notification.Key
	tenant   uuid.UUID
	msTenant uuid.UUID
	sub      uuid.UUID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{msTenant: uuid.New()}
	ctx := context.Background()
	f.st, f.tenant = storetest.New(t)
	f.pool = f.st.Pool()
	testkit.Exec(t, f.pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, f.tenant, f.msTenant)
	m, err := f.st.AddMonitor(ctx, f.tenant, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash)
		VALUES ($1, $2, 'sub-1', 'r', $3) RETURNING id`, f.tenant, m.ID, store.ClientStateHash("cs")).Scan(&f.sub); err != nil {
		t.Fatal(err)
	}
	secret, err := f.st.PutSecret(ctx, &f.tenant, store.PurposeSigningSecret, []byte("whsec_x"))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, f.pool, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, 'https://x.example/hook', $2)`, f.tenant, secret)
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pb"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	cert, _ := x509.ParseCertificate(der)
	f.key = notification.Key{ID: "cert-1", Certificate: cert, Private: priv}
	return f
}

// rich is one encrypted presence item as Graph would send it.
func (f *fixture) rich(t *testing.T, user uuid.UUID, availability, activity, seq string) map[string]any {
	t.Helper()
	return f.richFor(t, f.key, user, availability, activity, seq)
}

// richFor is rich, encrypted for key.
func (f *fixture) richFor(t *testing.T, key notification.Key, user uuid.UUID, availability, activity, seq string) map[string]any {
	t.Helper()
	return f.richWith(t, key, user, map[string]any{"availability": availability, "activity": activity, "sequenceNumber": seq})
}

// richWith is one encrypted item whose presence has the properties given.
func (f *fixture) richWith(t *testing.T, key notification.Key, user uuid.UUID, properties map[string]any) map[string]any {
	t.Helper()
	resource := map[string]any{"@odata.type": "#microsoft.graph.presence", "@odata.id": "users/" + user.String() + "/presence", "id": user}
	for k, v := range properties {
		resource[k] = v
	}
	plain, _ := json.Marshal(resource)
	ec, err := notification.Encrypt(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"subscriptionId": "sub-1", "subscriptionExpirationDateTime": "2026-11-23T10:00:00.0000000Z", "changeType": "updated",
		"clientState": "cs", "tenantId": f.msTenant, "resource": "communications/presences/" + user.String(),
		"resourceData":     map[string]any{"@odata.type": "#Microsoft.Graph.presence", "@odata.id": "users/" + user.String() + "/presence", "id": user},
		"encryptedContent": ec}
}

func (f *fixture) inbox(t *testing.T, kind string, items ...map[string]any) {
	t.Helper()
	b := f.payload(t, items...)
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO inbox (kind, payload, items) VALUES ($1, $2, $3)`, kind, b, len(items)); err != nil {
		t.Fatal(err)
	}
}

// payload is a POST's body as the inbox keeps it: the items, and a
// validation token (tokens decides whether it is good).
func (f *fixture) payload(t *testing.T, items ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"value": items, "validationTokens": []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProcessorAppliesDedupesAndDropsStaleChanges(t *testing.T) {
	f := newFixture(t)
	metrics := NewMetrics(prometheus.NewRegistry())
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Metrics: metrics})
	ctx := context.Background()
	u := uuid.New()
	// No debounce: the call's end below is published at once, not held.
	if err := f.st.PutMappingRules(ctx, f.tenant, []byte(`{"debounce": "0s"}`)); err != nil {
		t.Fatal(err)
	}

	f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "0002"))
	f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "0002"))        // Graph retried the POST
	f.inbox(t, "change", f.rich(t, u, "Available", "Available", "0001")) // arrived late
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 3 || st.Applied != 1 || st.Unchanged != 1 || st.Stale != 1 {
		t.Fatalf("stats = %+v", st)
	}
	for _, o := range []string{store.PresenceApplied, store.PresenceStale, store.PresenceUnchanged} {
		if n := counted(t, metrics.changes, o); n != 1 {
			t.Errorf("presence_changes_total{outcome=%q} = %v, want 1", o, n)
		}
	}
	pr, err := f.st.GetPresence(ctx, f.tenant, u)
	if err != nil || pr.Availability != "Busy" || pr.Activity != "InACall" || pr.MappedState != "talking" || pr.Sequence != 1 {
		t.Fatalf("presence = %+v %v", pr, err)
	}
	if n := f.count(t, `SELECT count(*) FROM presence_events`); n != 1 {
		t.Errorf("events = %d, want 1 (one event for a replayed POST)", n)
	}
	if n := f.count(t, `SELECT count(*) FROM deliveries`); n != 1 {
		t.Errorf("deliveries = %d, want 1 per event per endpoint", n)
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 0 {
		t.Errorf("inbox rows left: %d", n)
	}
	f.inbox(t, "change", f.rich(t, u, "Available", "Available", "0003"))
	p.Drain(ctx)
	if pr, _ := f.st.GetPresence(ctx, f.tenant, u); pr.Sequence != 2 || pr.MappedState != "available" {
		t.Errorf("after a newer change: %+v", pr)
	}
	if n := f.count(t, `SELECT count(*) FROM subscriptions WHERE id = $1 AND last_notification_at IS NOT NULL`, f.sub); n != 1 {
		t.Error("last_notification_at not stamped")
	}
}

func TestProcessorRejectsWhatItCannotTrust(t *testing.T) {
	f := newFixture(t)
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}})
	ctx := context.Background()
	good, tampered, foreign, mismatched := uuid.New(), uuid.New(), uuid.New(), uuid.New()

	bad := f.rich(t, tampered, "Busy", "InACall", "1")
	ec := bad["encryptedContent"].(notification.EncryptedContent)
	ec.DataSignature = "AAAA" + ec.DataSignature[4:]
	bad["encryptedContent"] = ec
	wrongTenant := f.rich(t, foreign, "Busy", "InACall", "1")
	wrongTenant["tenantId"] = uuid.New()
	swapped := f.rich(t, uuid.New(), "Busy", "InACall", "1") // encrypted user differs from resourceData
	swapped["resourceData"] = map[string]any{"id": mismatched}
	f.inbox(t, "change", f.rich(t, good, "Away", "Away", "1"), bad, wrongTenant, swapped)
	st, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != 1 || st.Rejected != 3 {
		t.Errorf("stats = %+v, want 1 applied and 3 rejected", st)
	}
	if n := f.count(t, `SELECT count(*) FROM presence`); n != 1 {
		t.Errorf("presence rows = %d, want only the genuine user", n)
	}

	// A POST whose validation tokens fail is dropped whole.
	strict := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{bad: true}})
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"))
	st, _ = strict.Drain(ctx)
	if st.Rejected != 1 || st.Applied != 0 {
		t.Errorf("bad tokens: %+v", st)
	}

	// Keys not loadable: nothing is judged, nothing lost; a later try works.
	down := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{down: true}})
	f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", "1"))
	if _, err := down.Drain(ctx); !errors.Is(err, notification.ErrKeysUnavailable) {
		t.Fatalf("keys down: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM inbox`); n != 1 {
		t.Fatalf("inbox rows after a failed try = %d, want 1 kept", n)
	}
	if st, err := p.Drain(ctx); err != nil || st.Applied != 1 {
		t.Errorf("retry once keys are back: %+v %v", st, err)
	}
}

func TestBasicAndLifecycleNotificationsAreHandedOn(t *testing.T) {
	f := newFixture(t)
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}})
	u := uuid.New()
	basic := f.rich(t, u, "Busy", "Busy", "1")
	delete(basic, "encryptedContent")
	f.inbox(t, "change", basic)
	f.inbox(t, "lifecycle", map[string]any{"subscriptionId": "sub-1", "subscriptionExpirationDateTime": "2026-11-23T10:00:00Z",
		"tenantId": f.msTenant, "clientState": "cs", "lifecycleEvent": "reauthorizationRequired"})
	st, err := p.Drain(context.Background())
	if err != nil || st.Resync != 1 || st.Lifecycle != 1 {
		t.Fatalf("stats = %+v %v", st, err)
	}
	if n := f.count(t, `SELECT count(*) FROM presence_resync WHERE user_object_id = $1`, u); n != 1 {
		t.Error("basic notification did not queue a resync")
	}
	if n := f.count(t, `SELECT count(*) FROM subscription_events WHERE subscription_id = $1 AND event = 'reauthorizationRequired'`, f.sub); n != 1 {
		t.Error("lifecycle event not recorded")
	}
}

func TestTwoProcessorsShareTheInboxWithoutDoubleWork(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		f.inbox(t, "change", f.rich(t, uuid.New(), "Busy", "InACall", fmt.Sprint(i)))
	}
	var wg sync.WaitGroup
	stats := make([]Stats, 2)
	for i := range stats {
		wg.Go(func() {
			p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Batch: 10})
			var err error
			if stats[i], err = p.Drain(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if stats[0].Rows+stats[1].Rows != 200 || stats[0].Applied+stats[1].Applied != 200 {
		t.Errorf("stats = %+v", stats)
	}
	if n := f.count(t, `SELECT count(*) FROM presence_events`); n != 200 {
		t.Errorf("events = %d, want 200", n)
	}
}

// An item whose resourceData.id is not a user's object id is dropped as
// no_user, rich or basic: it is neither applied unchecked (the encrypted
// presence cannot be matched to the user the item names) nor re-read for
// uuid.Nil.
func TestItemWithAnInvalidResourceDataIDIsDropped(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rich := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	rich["resourceData"] = map[string]any{"id": "not-a-user-id"}
	basic := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	delete(basic, "encryptedContent")
	basic["resourceData"] = map[string]any{"id": "not-a-user-id"}
	f.inbox(t, "change", rich, basic)
	st, err := p.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != 2 || st.Applied != 0 || st.Resync != 0 {
		t.Errorf("stats = %+v, want 2 rejected, nothing applied or re-read", st)
	}
	if n := f.count(t, `SELECT count(*) FROM presence`) + f.count(t, `SELECT count(*) FROM presence_resync`); n != 0 {
		t.Errorf("presence and resync rows = %d, want none", n)
	}
	if got := strings.Count(logs.String(), "reason="+DropNoUser); got != 2 {
		t.Errorf("%d drops logged as %s, want 2:\n%s", got, DropNoUser, logs.String())
	}
}
