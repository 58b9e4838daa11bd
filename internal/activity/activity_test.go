package activity_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/activity"
	"presencebridge/internal/deliver"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// platform is a webhook receiver that notes how long each event took from
// its observedAt to its arrival, and fails the first fail requests.
type platform struct {
	srv  *httptest.Server
	mu   sync.Mutex
	took []time.Duration
	fail int
}

func newPlatform(t *testing.T, fail int) *platform {
	p := &platform{fail: fail}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.fail > 0 {
			p.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var ev presence.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		p.took = append(p.took, arrived.Sub(ev.Data.ObservedAt))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *platform) received() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(slices.Values(p.took))
}

// endpoint points tenant's webhooks at p.
func endpoint(t *testing.T, st *store.Store, tenant uuid.UUID, p *platform) {
	t.Helper()
	secret, _ := deliver.NewSecret()
	sid, err := st.PutSecret(t.Context(), &tenant, store.PurposeSigningSecret, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, st.Pool(), `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3)`, tenant, p.srv.URL, sid)
}

// changes records one presence change for each of len(ago) new users of
// tenant, observed that long ago, as the processor would.
func changes(t *testing.T, st *store.Store, tenant uuid.UUID, ago ...time.Duration) {
	t.Helper()
	err := st.InTx(t.Context(), func(tx store.Tx) error {
		for _, a := range ago {
			if _, _, err := tx.ApplyPresence(t.Context(), store.PresenceChange{TenantID: tenant, UserID: uuid.New(), Availability: "Busy",
				Activity: "InACall", MappedState: "talking", Source: "notification", ObservedAt: time.Now().Add(-a)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deliverAll runs d until nothing is pending.
func deliverAll(t *testing.T, d *deliver.Deliverer, pool *pgxpool.Pool) {
	t.Helper()
	for range 100 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		var pending int
		pool.QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending)
		if pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // a failed attempt's retry is due "at once", by the database's clock
	}
	t.Fatal("deliveries still pending after 100 rounds")
}

// TestDeliveriesAreMeasuredPerTenantFromReceiptToThePlatformsAnswer:
// webhooks delivered to a receiver are counted in their tenant's minute
// and in the overall one, failed attempts too, and the percentiles read
// back lie within a bucket of those the receiver saw.
func TestDeliveriesAreMeasuredPerTenantFromReceiptToThePlatformsAnswer(t *testing.T) {
	ctx := t.Context()
	st, a := storetest.New(t)
	b := storetest.Tenant(t, st.Pool(), "Fabrikam")
	pa, pb := newPlatform(t, 0), newPlatform(t, 1)
	endpoint(t, st, a, pa)
	endpoint(t, st, b, pb)
	changes(t, st, a, 400*time.Millisecond, 400*time.Millisecond, 400*time.Millisecond, 450*time.Millisecond, 450*time.Millisecond,
		500*time.Millisecond, 500*time.Millisecond, 600*time.Millisecond, 700*time.Millisecond, 5*time.Second)
	changes(t, st, b, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond)
	rec := activity.NewRecorder(st, activity.Options{})
	started := time.Now()
	deliverAll(t, deliver.New(st, deliver.Options{AllowPrivate: true, Activity: rec}), st.Pool())
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Minute) // the minute in progress is left out of a series
	sa, err := activity.TenantSeries(ctx, st, a, activity.SpanOf("1h"), now)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := activity.TenantSeries(ctx, st, b, activity.SpanOf("1h"), now)
	all, _ := activity.OverallSeries(ctx, st, activity.SpanOf("1h"), now)
	if sa.Total.Delivered != 10 || sa.Total.Failed != 0 || sb.Total.Delivered != 3 || sb.Total.Failed != 1 ||
		all.Total.Delivered != 13 || all.Total.Failed != 1 {
		t.Fatalf("delivered/failed: tenant A %d/%d, B %d/%d, overall %d/%d; want 10/0, 3/1, 13/1", sa.Total.Delivered, sa.Total.Failed,
			sb.Total.Delivered, sb.Total.Failed, all.Total.Delivered, all.Total.Failed)
	}
	for _, p := range sa.Points {
		if p.Delivered > 0 && (p.At.Before(started.Truncate(time.Minute)) || p.At.After(time.Now())) {
			t.Errorf("deliveries counted in the minute of %v, not the minute they were made", p.At)
		}
	}
	truth := pa.received()
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, truth[4]}, {0.99, truth[9]}} {
		got, _ := sa.Total.Latency.Quantile(q.q)
		if float64(got) < float64(q.want)/1.5 || float64(got) > float64(q.want)*1.5 {
			t.Errorf("p%v = %v; the receiver saw %v: more than a bucket apart", q.q*100, got, q.want)
		}
	}
	if n := all.Total.Latency.Count(); n != 13 {
		t.Errorf("the overall histogram holds %d deliveries, want 13", n)
	}
}

// TestFiguresOfTheSameMinuteFromTwoWorkersAddUp: each worker writes its
// own counts of a minute, and the row holds their sum, bucket by bucket.
func TestFiguresOfTheSameMinuteFromTwoWorkersAddUp(t *testing.T) {
	ctx := t.Context()
	st, tenant := storetest.New(t)
	at := time.Now().Add(-2 * time.Minute)
	one, two := activity.NewRecorder(st, activity.Options{}), activity.NewRecorder(st, activity.Options{})
	one.Notified(tenant, at)
	one.Delivered(tenant, at, 20*time.Millisecond)
	two.Notified(tenant, at)
	two.Delivered(tenant, at, 20*time.Millisecond)
	two.Failed(tenant, at)
	one.Delivered(tenant, at, 3*time.Second)
	var wg sync.WaitGroup
	for _, r := range []*activity.Recorder{one, two, one} {
		wg.Go(func() {
			if err := r.Flush(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, err := activity.TenantSeries(ctx, st, tenant, activity.SpanOf("1h"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := activity.Bucket(20*time.Millisecond), activity.Bucket(3*time.Second)
	if s.Total.Notifications != 2 || s.Total.Delivered != 3 || s.Total.Failed != 1 || s.Total.Latency[fast] != 2 || s.Total.Latency[slow] != 1 {
		t.Errorf("figures %+v; want 2 notifications, 3 delivered (2 fast, 1 slow), 1 failed", s.Total)
	}
	var rows int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM activity_minutes`).Scan(&rows)
	if rows != 1 {
		t.Errorf("%d rows for one tenant's minute", rows)
	}
}

// TestADeletedTenantsFiguresGoWithItButStayInTheOverall: figures of a
// tenant deleted before they were written do not fail the write of the
// others, and still count in the overall figures.
func TestADeletedTenantsFiguresGoWithItButStayInTheOverall(t *testing.T) {
	ctx := t.Context()
	st, kept := storetest.New(t)
	gone := storetest.Tenant(t, st.Pool(), "Gone")
	rec := activity.NewRecorder(st, activity.Options{})
	at := time.Now().Add(-time.Minute)
	rec.Notified(kept, at)
	rec.Notified(gone, at)
	testkit.Exec(t, st.Pool(), `DELETE FROM tenants WHERE id = $1`, gone)
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := activity.TenantSeries(ctx, st, kept, activity.SpanOf("1h"), time.Now())
	all, _ := activity.OverallSeries(ctx, st, activity.SpanOf("1h"), time.Now())
	if s.Total.Notifications != 1 || all.Total.Notifications != 2 {
		t.Errorf("the kept tenant has %d notifications, the overall %d; want 1 and 2", s.Total.Notifications, all.Total.Notifications)
	}
}
