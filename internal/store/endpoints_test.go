package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// publish records a presence change of user, which gives every enabled
// endpoint of the tenant a pending delivery.
func publish(t *testing.T, st *store.Store, tenant, user uuid.UUID, activity string) {
	t.Helper()
	err := st.InTx(context.Background(), func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(context.Background(), store.PresenceChange{TenantID: tenant, UserID: user,
			Availability: "Busy", Activity: activity, MappedState: "busy", Source: "notification", ObservedAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deliveries are an endpoint's deliveries, oldest event first.
func deliveries(t *testing.T, st *store.Store, tenant, ep uuid.UUID) []store.LoggedDelivery {
	t.Helper()
	got, err := st.EndpointDeliveries(context.Background(), tenant, ep, store.DeliveryPage{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	return got
}

func TestDeletingAnEndpointDropsItsDeliveriesAndSecrets(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, err := st.AddEndpoint(ctx, tenant, store.NewEndpoint{URL: "https://a.example/hook", Description: "wallboard", Secret: "whsec_dGVzdA=="})
	if err != nil || ep.Description != "wallboard" || ep.CreatedAt.IsZero() {
		t.Fatalf("add: %+v, %v", ep, err)
	}
	if _, err := st.RotateEndpointSecret(ctx, tenant, ep.ID, "whsec_bmV3", time.Hour); err != nil {
		t.Fatal(err)
	}
	publish(t, st, tenant, uuid.New(), "InACall")
	publish(t, st, tenant, uuid.New(), "InACall")
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'delivered' WHERE id = (SELECT min(id) FROM deliveries)`)
	other := storetest.Tenant(t, st.Pool(), "Other")
	if _, err := st.DeleteEndpoint(ctx, other, ep.ID); !errors.Is(err, store.ErrEndpointNotFound) {
		t.Errorf("another tenant's delete: %v", err)
	}
	pending, err := st.DeleteEndpoint(ctx, tenant, ep.ID)
	if err != nil || pending != 1 {
		t.Fatalf("delete: %d pending, %v; want 1", pending, err)
	}
	var left int
	st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM endpoints)`).Scan(&left)
	if left != 0 {
		t.Errorf("%d deliveries, secrets and endpoints left", left)
	}
	if _, err := st.DeleteEndpoint(ctx, tenant, ep.ID); !errors.Is(err, store.ErrEndpointNotFound) {
		t.Errorf("deleted twice: %v", err)
	}
}

func TestARotationKeepsOnlyTheSecretsThatStillSign(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_b25l")
	first, err := st.RotateEndpointSecret(ctx, tenant, ep.ID, "whsec_dHdv", 24*time.Hour)
	if err != nil || first.PrevSecretID == nil || *first.PrevSecretID != ep.SecretID || first.SecretID == ep.SecretID {
		t.Fatalf("rotate with overlap: %+v, %v", first, err)
	}
	// A second rotation drops the first's previous secret at once; without
	// an overlap the one it replaces goes too.
	second, err := st.RotateEndpointSecret(ctx, tenant, ep.ID, "whsec_dGhyZWU=", 0)
	if err != nil || second.PrevSecretID != nil || second.PrevSecretExpiresAt != nil {
		t.Fatalf("rotate without overlap: %+v, %v", second, err)
	}
	var secrets int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&secrets)
	if secrets != 1 {
		t.Errorf("%d secrets stored, want only the current one", secrets)
	}
	if got, err := st.OpenSecret(ctx, &tenant, second.SecretID, store.PurposeSigningSecret); err != nil || string(got) != "whsec_dGhyZWU=" {
		t.Errorf("current secret %q, %v", got, err)
	}
	if _, err := st.RotateEndpointSecret(ctx, tenant, uuid.New(), "whsec_Zm91cg==", 0); !errors.Is(err, store.ErrEndpointNotFound) {
		t.Errorf("rotating no endpoint: %v", err)
	}
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&secrets)
	if secrets != 1 {
		t.Errorf("a failed rotation left its secret: %d stored", secrets)
	}
}

// TestReplayingSomeDeliveriesKeepsEachUsersOrder: a replay by ids or from
// a time puts back only those, keeps back what a newer delivered state
// makes stale, counts the ids that are not replayable, and leaves the
// superseded range of a newer delivery while some of it stays out.
func TestReplayingSomeDeliveriesKeepsEachUsersOrder(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	ann, bob := uuid.New(), uuid.New()
	for _, a := range []string{"InACall", "InAMeeting", "Presenting", "InACall"} {
		publish(t, st, tenant, ann, a)
	}
	publish(t, st, tenant, bob, "InACall")
	publish(t, st, tenant, bob, "InAMeeting")
	d := deliveries(t, st, tenant, ep.ID) // ann 1–4, bob 1–2
	// Ann: 1–3 superseded by 4, which waits saying so. Bob: 1 dead, 2 delivered.
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'superseded' WHERE id = ANY($1)`, []int64{d[0].ID, d[1].ID, d[2].ID})
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET supersedes_from = 1, supersedes_to = 3 WHERE id = $1`, d[3].ID)
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead' WHERE id = $1`, d[4].ID)
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'delivered' WHERE id = $1`, d[5].ID)

	r, err := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{IDs: []int64{d[1].ID, d[4].ID, d[5].ID, 999999}})
	if err != nil || r != (store.Replayed{Replayed: 1, Kept: 1, Ignored: 2}) {
		t.Fatalf("replay by ids: %+v, %v; want ann's 2 replayed, bob's 1 kept, 2 ignored", r, err)
	}
	d = deliveries(t, st, tenant, ep.ID)
	if d[1].Status != store.DeliveryPending || d[0].Status != store.DeliverySuperseded || d[4].Status != store.DeliveryDead {
		t.Errorf("after replay by ids: %s %s %s", d[0].Status, d[1].Status, d[4].Status)
	}
	var from *int64
	st.Pool().QueryRow(ctx, `SELECT supersedes_from FROM deliveries WHERE id = $1`, d[3].ID).Scan(&from)
	if from == nil {
		t.Error("ann's newest lost its superseded range while 1 and 3 stay superseded")
	}

	// From a time: the rest of ann's (all created now) go back, and with
	// nothing of hers skipped any more the range is cleared.
	since := time.Now().Add(-time.Minute)
	r, err = st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{Since: &since})
	if err != nil || r != (store.Replayed{Replayed: 2, Kept: 1}) {
		t.Fatalf("replay since: %+v, %v", r, err)
	}
	st.Pool().QueryRow(ctx, `SELECT supersedes_from FROM deliveries WHERE id = $1`, d[3].ID).Scan(&from)
	if from != nil {
		t.Errorf("ann's newest still says it superseded from %d", *from)
	}
	future := time.Now().Add(time.Hour)
	if r, _ := st.ReplayEndpoint(ctx, tenant, ep.ID, store.ReplayFilter{Since: &future}); r != (store.Replayed{}) {
		t.Errorf("replay since a future time: %+v", r)
	}
}

func TestAnEndpointsDeliveriesArePagedNewestFirstAndByStatus(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	user := uuid.New()
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn, object_id, external_id) VALUES ($1, 'adele@contoso.example', $2, 'ext-7')`, tenant, user)
	for _, a := range []string{"InACall", "InAMeeting", "InACall", "InAMeeting", "InACall"} {
		publish(t, st, tenant, user, a)
	}
	testkit.Exec(t, st.Pool(), `UPDATE deliveries SET status = 'dead', attempts = 9, last_status = 503, last_error = 'HTTP 503: down'
		WHERE id = (SELECT min(id) FROM deliveries)`)
	page, err := st.EndpointDeliveries(ctx, tenant, ep.ID, store.DeliveryPage{Limit: 3})
	if err != nil || len(page) != 3 || page[0].Sequence != 5 || page[0].User.UPN != "adele@contoso.example" || page[0].User.TelephonyID != "ext-7" ||
		page[0].Status != store.DeliveryPending || page[0].NextAttemptAt == nil {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	rest, _ := st.EndpointDeliveries(ctx, tenant, ep.ID, store.DeliveryPage{Limit: 3, Before: page[2].Cursor})
	if len(rest) != 2 || rest[1].Sequence != 1 || rest[1].LastError != "HTTP 503: down" || *rest[1].LastStatus != 503 ||
		rest[1].NextAttemptAt != nil || rest[1].Attempts != 9 {
		t.Errorf("second page: %+v", rest)
	}
	dead, _ := st.EndpointDeliveries(ctx, tenant, ep.ID, store.DeliveryPage{Status: store.DeliveryDead, Limit: 10})
	if len(dead) != 1 || dead[0].Sequence != 1 {
		t.Errorf("dead: %+v", dead)
	}
	other := storetest.Tenant(t, st.Pool(), "Other")
	if got, _ := st.EndpointDeliveries(ctx, other, ep.ID, store.DeliveryPage{Limit: 10}); len(got) != 0 {
		t.Errorf("another tenant read %d deliveries", len(got))
	}
}

func TestBacklogsCountEachWebhooksUndeliveredDeliveriesByStatus(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	first, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	for range 7 {
		publish(t, st, tenant, uuid.New(), "InACall")
	}
	// Seven deliveries at the first endpoint: two delivered, one dead, three
	// superseded, one still pending. The second endpoint, made after, has
	// none; another tenant's endpoint has a pending one of its own.
	testkit.Exec(t, st.Pool(), `UPDATE deliveries d SET status = x.status FROM (SELECT id, (ARRAY['delivered', 'delivered', 'dead', 'superseded',
		'superseded', 'superseded', 'pending'])[row_number() OVER (ORDER BY id)] AS status FROM deliveries) x WHERE d.id = x.id`)
	second, _ := st.CreateEndpoint(ctx, tenant, "https://b.example/hook", "whsec_dGVzdA==")
	other := storetest.Tenant(t, st.Pool(), "Other")
	elsewhere, _ := st.CreateEndpoint(ctx, other, "https://c.example/hook", "whsec_dGVzdA==")
	publish(t, st, other, uuid.New(), "InACall")
	got, err := st.Backlogs(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]store.Backlog{first.ID: {Pending: 1, Dead: 1, Superseded: 3}, second.ID: {}}
	if len(got) != len(want) || got[first.ID] != want[first.ID] || got[second.ID] != want[second.ID] {
		t.Errorf("backlogs %+v, want %+v (first %s, second %s)", got, want, first.ID, second.ID)
	}
	if got, _ := st.Backlogs(ctx, other); len(got) != 1 || got[elsewhere.ID] != (store.Backlog{Pending: 1}) {
		t.Errorf("the other tenant's backlogs: %+v", got)
	}
}

// Every index a pending delivery is in costs each delivered webhook an
// index entry when it is queued (and cost another when it was claimed,
// until a claim's update became heap-only: migration 000061). The
// presence write and the claim are most of PostgreSQL's time in a repair
// (BENCHMARKS.md, issue 16). This names the indexes that earn it; an
// index added to the list must say in its migration what on the delivery
// path reads it.
func TestAPendingDeliveryIsInOnlyTheIndexesTheDeliveryPathReads(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_dGVzdA==")
	publish(t, st, tenant, uuid.New(), "InACall")
	rows, err := st.Pool().Query(ctx, `SELECT c.relname, coalesce(pg_get_expr(i.indpred, i.indrelid), 'true')
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'deliveries'::regclass ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	predicates := map[string]string{}
	for rows.Next() {
		var name, pred string
		if err := rows.Scan(&name, &pred); err != nil {
			t.Fatal(err)
		}
		predicates[name] = pred
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var in []string
	for name, pred := range predicates {
		var holds bool
		if err := st.Pool().QueryRow(ctx, `SELECT `+pred+` FROM deliveries`).Scan(&holds); err != nil {
			t.Fatalf("%s's predicate %s: %v", name, pred, err)
		}
		if holds {
			in = append(in, name)
		}
	}
	slices.Sort(in)
	want := []string{"deliveries_due_endpoint_idx", "deliveries_due_idx", "deliveries_endpoint_id_event_id_key", "deliveries_pending_user_idx", "deliveries_pkey"}
	if !slices.Equal(in, want) {
		t.Errorf("a pending delivery is in %v, want %v", in, want)
	}
}

// Deliveries have no key to endpoints (migration 000060), so whoever
// deletes an endpoint deletes its deliveries. A publisher that has queued
// one and not yet committed holds the endpoint's row shared: the deletion
// waits for it, and then deletes what it queued too. Deleting the
// deliveries before waiting for the endpoint's row would leave this one.
func TestDeletingAnEndpointWhileAnEventIsQueuedToItLeavesNoDeliveries(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep, user := anEndpointAndAUsersPresence(t)
	var pending int64
	whileAnEventIsQueued(t, st, tenant, user, func() error {
		var err error
		pending, err = st.DeleteEndpoint(ctx, tenant, ep.ID)
		return err
	})
	if left := count(t, st, `SELECT count(*) FROM deliveries WHERE endpoint_id = $1`, ep.ID); left != 0 || pending != 2 {
		t.Errorf("%d deliveries left to the deleted endpoint, %d counted pending; want none left and 2 counted", left, pending)
	}
}

// The same for a tenant's purge, which deletes its endpoints.
func TestPurgingATenantWhileAnEventIsQueuedToItsEndpointLeavesNoDeliveries(t *testing.T) {
	ctx := context.Background()
	st, tenant, ep, user := anEndpointAndAUsersPresence(t)
	testkit.Exec(t, st.Pool(), `UPDATE tenants SET status = 'deleted', purge_after = now() - interval '1 hour' WHERE id = $1`, tenant)
	whileAnEventIsQueued(t, st, tenant, user, func() error {
		purged, err := st.PurgeDeletedTenants(ctx, time.Now(), 10)
		if err == nil && len(purged) != 1 {
			err = fmt.Errorf("purged %v, want %s", purged, tenant)
		}
		return err
	})
	if left := count(t, st, `SELECT count(*) FROM deliveries WHERE endpoint_id = $1`, ep.ID); left != 0 {
		t.Errorf("%d deliveries left to the purged tenant's endpoint, want none", left)
	}
}

// anEndpointAndAUsersPresence is a tenant with an endpoint and a user
// whose presence it holds (one delivery of it queued).
func anEndpointAndAUsersPresence(t *testing.T) (*store.Store, uuid.UUID, store.Endpoint, uuid.UUID) {
	t.Helper()
	st, tenant := storetest.New(t)
	ep, err := st.CreateEndpoint(context.Background(), tenant, "https://a.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	user := uuid.New()
	publish(t, st, tenant, user, "InACall")
	return st, tenant, ep, user
}

// whileAnEventIsQueued changes user's presence, which queues a delivery
// to each of the tenant's endpoints, in a transaction left open until
// remove, run meanwhile, waits for a lock; then commits it, and fails the
// test if remove fails. The user's presence is held already, so that the
// change locks no tenant's row (only a new presence row's key to tenants
// would), which a purge skips instead of waiting.
func whileAnEventIsQueued(t *testing.T, st *store.Store, tenant, user uuid.UUID, remove func() error) {
	t.Helper()
	ctx := context.Background()
	queued, commit, published := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		published <- st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: tenant, UserID: user, Availability: "Busy",
				Activity: "InAMeeting", MappedState: "busy", Source: "notification", ObservedAt: time.Now()})
			close(queued)
			<-commit
			return err
		})
	}()
	<-queued
	var once sync.Once
	release := func() { once.Do(func() { close(commit) }) }
	defer release() // a failure below must not leave the publisher open
	removed := make(chan error, 1)
	go func() { removed <- remove() }()
	for waiting := 0; waiting == 0; time.Sleep(10 * time.Millisecond) {
		// This database's sessions only: the server may be other tests' too.
		waiting = count(t, st, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		select {
		case err := <-removed:
			t.Fatalf("removed without waiting for the open publisher (%v)", err)
		default:
		}
	}
	release()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
}

// count runs a query that counts.
func count(t *testing.T, st *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
