package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// receiver records what arrives and answers with reply.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []received
	reply  func(n int) (int, http.Header) // n counts requests from 1
	hang   chan struct{}                  // when set, requests wait on it
	answer string                         // the body of every answer
}

type received struct {
	header http.Header
	body   []byte
	event  presence.Event
}

func newReceiver(t *testing.T, reply func(int) (int, http.Header)) *receiver {
	t.Helper()
	secret, _ := NewSecret()
	r := &receiver{secret: secret, reply: reply}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.hang != nil {
			select {
			case <-r.hang:
			case <-req.Context().Done():
				return
			}
		}
		b, _ := io.ReadAll(req.Body)
		var ev presence.Event
		json.Unmarshal(b, &ev)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b, ev})
		n := len(r.got)
		r.mu.Unlock()
		status, h := http.StatusNoContent, http.Header(nil)
		if r.reply != nil {
			status, h = r.reply(n)
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, r.answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received{}, r.got...)
}

type fixture struct {
	pool   *pgxpool.Pool
	st     *store.Store
	tenant uuid.UUID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	f.st, f.tenant = storetest.New(t)
	f.pool = f.st.Pool()
	testkit.Exec(t, f.pool, `UPDATE tenants SET telephony_account_id = 'acct-1' WHERE id = $1`, f.tenant)
	return f
}

// endpoint registers a receiver for a tenant.
func (f *fixture) endpoint(t *testing.T, tenant uuid.UUID, r *receiver) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	sid, err := f.st.PutSecret(ctx, &tenant, store.PurposeSigningSecret, []byte(r.secret))
	if err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	if err := f.pool.QueryRow(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3) RETURNING id`, tenant, r.srv.URL, sid).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// change records a presence change the way the processor does.
func (f *fixture) change(t *testing.T, tenant, user uuid.UUID, availability, activity, state string) {
	t.Helper()
	err := f.st.InTx(context.Background(), func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(context.Background(), store.PresenceChange{TenantID: tenant, UserID: user,
			Availability: availability, Activity: activity, MappedState: state, Source: "notification", ObservedAt: time.Now()})
		if err != nil {
			return err
		}
		return tx.NotifyPresence(context.Background(), tenant)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) status(t *testing.T) map[string]int {
	t.Helper()
	rows, _ := f.pool.Query(context.Background(), `SELECT status, count(*) FROM deliveries GROUP BY status`)
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		out[s] = n
	}
	return out
}

// due lets the time until each pending delivery's next attempt pass, as
// far as the delivery can tell: it is due now, and its schedule started
// that much earlier (so the schedule moves on as it would have).
func (f *fixture) due(t *testing.T) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE deliveries SET next_attempt_at = now(),
		schedule_start = schedule_start - greatest(next_attempt_at - now(), '0') WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
}

var fast = []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}

func TestASignedWebhookVerifiesWithTheReferenceLibrary(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	user := uuid.New()
	testkit.Exec(t, f.pool, `INSERT INTO directory_users (tenant_id, upn, object_id, external_id) VALUES ($1, 'adele@contoso.example', $2, 'ext-7')`, f.tenant, user)
	f.change(t, f.tenant, user, "Busy", "InACall", "talking")
	d := New(f.st, Options{AllowPrivate: true})
	if n, err := d.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	got := r.all()
	if len(got) != 1 {
		t.Fatalf("received %d requests", len(got))
	}
	wh, _ := standardwebhooks.NewWebhook(r.secret)
	if err := wh.Verify(got[0].body, got[0].header); err != nil {
		t.Fatalf("Standard Webhooks verification: %v", err)
	}
	ev := got[0].event
	if ev.Type != "presence.changed" || ev.Data.State != "talking" || ev.Data.Activity != "InACall" || ev.Data.User.UPN != "adele@contoso.example" ||
		ev.Data.User.TelephonyID != "ext-7" || ev.Data.User.ObjectID != user || ev.Data.Sequence != 1 || ev.Data.TelephonyAccountID != "acct-1" {
		t.Errorf("event = %s", got[0].body)
	}
	if id := got[0].header.Get("webhook-id"); id != ev.Data.EventID.String() || ev.Data.EventID.Version() != 7 {
		t.Errorf("webhook-id = %q, payload eventId %s (want the same UUIDv7)", id, ev.Data.EventID)
	}
	if s := f.status(t); s["delivered"] != 1 {
		t.Errorf("statuses = %v", s)
	}
	// Another secret does not verify it.
	other, _ := NewSecret()
	wh2, _ := standardwebhooks.NewWebhook(other)
	if wh2.Verify(got[0].body, got[0].header) == nil {
		t.Error("a different secret verified the signature")
	}
}

func TestRetriesKeepTheWebhookIDAndFollowTheSchedule(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, func(n int) (int, http.Header) {
		if n <= 2 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	f.endpoint(t, f.tenant, r)
	f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	d := New(f.st, Options{AllowPrivate: true})
	ctx := context.Background()
	d.RunOnce(ctx)
	// The first retry is a second away (DefaultSchedule), plus up to 20 %.
	var wait time.Duration
	f.pool.QueryRow(ctx, `SELECT next_attempt_at - schedule_start FROM deliveries`).Scan(&wait)
	if wait < time.Second || wait > 1200*time.Millisecond {
		t.Errorf("first retry %v after the start, want 1–1.2 s", wait)
	}
	for range 3 {
		f.due(t)
		d.RunOnce(ctx)
	}
	got := r.all()
	if len(got) != 3 {
		t.Fatalf("requests = %d, want 2 failures then 1 delivery", len(got))
	}
	for _, g := range got[1:] {
		if g.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
			t.Errorf("webhook-id changed on retry: %s then %s", got[0].header.Get("webhook-id"), g.header.Get("webhook-id"))
		}
		if !g.event.Timestamp.Equal(got[0].event.Timestamp) {
			t.Errorf("timestamp changed on retry: %v then %v", got[0].event.Timestamp, g.event.Timestamp)
		}
	}
	if s := f.status(t); s["delivered"] != 1 {
		t.Errorf("statuses = %v", s)
	}
}

func TestTheScheduleRetriesForADayThenGivesUp(t *testing.T) {
	start := time.Now()
	at := func(elapsed time.Duration) time.Duration {
		return next(DefaultSchedule, start, start.Add(elapsed), 0).Sub(start)
	}
	for _, c := range []struct{ failedAt, want time.Duration }{
		{0, time.Second}, {time.Second, 2 * time.Second}, {3 * time.Second, 4 * time.Second}, {20 * time.Second, 30 * time.Second},
		{90 * time.Second, 2 * time.Minute}, {3 * time.Hour, 4 * time.Hour}, {23 * time.Hour, 24 * time.Hour},
	} {
		if got := at(c.failedAt); got < c.want || got > c.want+(c.want-c.failedAt) {
			t.Errorf("failed after %v: next attempt at %v, want %v plus up to 20 %% of the gap", c.failedAt, got, c.want)
		}
	}
	if got := next(DefaultSchedule, start, start.Add(24*time.Hour), 0); !got.IsZero() {
		t.Errorf("a failure 24 h after the start is retried at %v, want dead", got)
	}
	if got := next(DefaultSchedule, start, start, time.Minute); got.Sub(start) < time.Minute {
		t.Errorf("Retry-After 60 s: next attempt after %v", got.Sub(start))
	}
}

func TestGoneDisablesAndTooManyRequestsWaits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gone := newReceiver(t, func(int) (int, http.Header) { return http.StatusGone, nil })
	ep := f.endpoint(t, f.tenant, gone)
	f.change(t, f.tenant, uuid.New(), "Busy", "Busy", "busy")
	d := New(f.st, Options{AllowPrivate: true, Schedule: fast})
	d.RunOnce(ctx)
	var enabled bool
	var reason string
	f.pool.QueryRow(ctx, `SELECT enabled, disabled_reason FROM endpoints WHERE id = $1`, ep).Scan(&enabled, &reason)
	if enabled || !strings.Contains(reason, "410") {
		t.Errorf("after 410: enabled %v reason %q", enabled, reason)
	}
	if r, _ := f.st.ReplayEndpoint(ctx, f.tenant, ep, store.ReplayFilter{}); r.Replayed != 1 || r.Kept != 0 {
		t.Errorf("replayed %d dead deliveries (kept %d), want 1", r.Replayed, r.Kept)
	}

	f2 := newFixture(t)
	busy := newReceiver(t, func(int) (int, http.Header) { return http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}} })
	f2.endpoint(t, f2.tenant, busy)
	f2.change(t, f2.tenant, uuid.New(), "Busy", "Busy", "busy")
	d2 := New(f2.st, Options{AllowPrivate: true, Schedule: fast})
	d2.RunOnce(ctx)
	var at time.Time
	f2.pool.QueryRow(ctx, `SELECT next_attempt_at FROM deliveries`).Scan(&at)
	if time.Until(at) < 110*time.Second {
		t.Errorf("next attempt in %v, want after Retry-After (120 s)", time.Until(at))
	}
}

func TestDeadAfterTheLastAttemptAndPrivateAddressesRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil) // would accept, but the deliverer may not reach loopback
	f.endpoint(t, f.tenant, r)
	f.change(t, f.tenant, uuid.New(), "Away", "Away", "away")
	d := New(f.st, Options{Schedule: fast})
	for range len(fast) {
		d.RunOnce(ctx)
		f.due(t)
	}
	if len(r.all()) != 0 {
		t.Fatal("a loopback webhook was called without AllowPrivate")
	}
	var status, lastErr string
	f.pool.QueryRow(ctx, `SELECT status, last_error FROM deliveries`).Scan(&status, &lastErr)
	if status != "dead" || !strings.Contains(lastErr, "not public") {
		t.Errorf("after %d attempts: %s %q", len(fast), status, lastErr)
	}
	if err := d.checkAddress("tcp", "10.1.2.3:443", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("10.1.2.3: %v", err)
	}
	if err := d.checkAddress("tcp", "[fe80::1]:443", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("fe80::1: %v", err)
	}
	if err := d.checkAddress("tcp", "20.190.128.1:443", nil); err != nil {
		t.Errorf("a public address was refused: %v", err)
	}
}

// TestARotatedSecretSignsTwiceUntilItsOverlapEnds: after a rotation the
// old secret signs beside the new one, so a receiver verifying with either
// takes the delivery; once the overlap is over only the new one signs.
func TestARotatedSecretSignsTwiceUntilItsOverlapEnds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, nil)
	ep := f.endpoint(t, f.tenant, r)
	newSecret, _ := NewSecret()
	rotated, err := f.st.RotateEndpointSecret(ctx, f.tenant, ep, newSecret, time.Hour)
	if err != nil || rotated.PrevSecretID == nil || rotated.PrevSecretExpiresAt == nil ||
		time.Until(*rotated.PrevSecretExpiresAt) < 59*time.Minute {
		t.Fatalf("rotate: %+v, %v", rotated, err)
	}
	d := New(f.st, Options{AllowPrivate: true})
	f.change(t, f.tenant, uuid.New(), "Busy", "Busy", "busy")
	d.RunOnce(ctx)
	got := r.all()
	if len(got) != 1 || len(strings.Fields(got[0].header.Get("webhook-signature"))) != 2 {
		t.Fatalf("during the overlap: %d requests, signature header %q", len(got), got[0].header.Get("webhook-signature"))
	}
	for _, s := range []string{r.secret, newSecret} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(got[0].body, got[0].header); err != nil {
			t.Errorf("a secret does not verify during the overlap: %v", err)
		}
	}

	testkit.Exec(t, f.pool, `UPDATE endpoints SET previous_signing_secret_expires_at = now() - interval '1 second' WHERE id = $1`, ep)
	f.change(t, f.tenant, uuid.New(), "Away", "Away", "away")
	d.RunOnce(ctx)
	got = r.all()
	if len(got) != 2 || len(strings.Fields(got[1].header.Get("webhook-signature"))) != 1 {
		t.Fatalf("after the overlap: %d requests, signature header %q", len(got), got[len(got)-1].header.Get("webhook-signature"))
	}
	oldWH, _ := standardwebhooks.NewWebhook(r.secret)
	newWH, _ := standardwebhooks.NewWebhook(newSecret)
	if err := newWH.Verify(got[1].body, got[1].header); err != nil {
		t.Errorf("the new secret does not verify after the overlap: %v", err)
	}
	if oldWH.Verify(got[1].body, got[1].header) == nil {
		t.Error("the old secret still verifies after the overlap")
	}
}

func TestAHangingEndpointDoesNotDelayAnotherTenant(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := newReceiver(t, nil)
	slow.hang = make(chan struct{})
	defer close(slow.hang)
	f.endpoint(t, f.tenant, slow)
	other := storetest.Tenant(t, f.pool, "Fabrikam")
	fastR := newReceiver(t, nil)
	f.endpoint(t, other, fastR)
	for range 20 {
		f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking") // 20 users of the hanging tenant
	}
	d := New(f.st, Options{AllowPrivate: true, Workers: 8, PerEndpoint: 2, Timeout: 10 * time.Second})
	go d.Run(ctx, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // the hanging endpoint holds its 2 slots
	start := time.Now()
	f.change(t, other, uuid.New(), "Available", "Available", "available")
	for len(fastR.all()) == 0 {
		if time.Since(start) > 3*time.Second {
			t.Fatal("the other tenant's event was not delivered while one endpoint hangs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other tenant's delivery took %v", d)
	}
}

// TestAnOutageLosesNothingAndKeepsEachUsersOrder: three users change
// three times while the receiver is down; when it is back each gets its
// newest state, the older ones are superseded (kept), and no user's
// sequence ever goes backwards.
func TestAnOutageLosesNothingAndKeepsEachUsersOrder(t *testing.T) {
	f := newFixture(t)
	var down sync.Mutex
	isDown := true
	r := newReceiver(t, func(int) (int, http.Header) {
		down.Lock()
		defer down.Unlock()
		if isDown {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	f.endpoint(t, f.tenant, r)
	users := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, act := range []string{"InACall", "Available", "InAMeeting"} {
		for _, u := range users {
			f.change(t, f.tenant, u, "Busy", act, "talking")
		}
	}
	d := New(f.st, Options{AllowPrivate: true, Cooldown: time.Millisecond, MaxCooldown: time.Millisecond})
	ctx := context.Background()
	for range 4 { // the receiver is down for several scheduled attempts
		d.RunOnce(ctx)
		f.due(t)
	}
	down.Lock()
	isDown = false
	down.Unlock()
	for range 10 {
		time.Sleep(2 * time.Millisecond) // the circuit's cooldown
		d.RunOnce(ctx)
		f.due(t)
	}
	if s := f.status(t); s["delivered"] != 3 || s["superseded"] != 6 || s["pending"] != 0 || s["dead"] != 0 {
		t.Fatalf("statuses after the outage = %v, want each user's newest delivered and the 6 older superseded", s)
	}
	last := map[uuid.UUID]presence.EventData{}
	for _, g := range r.all() {
		u := g.event.Data.User.ObjectID
		if g.event.Data.Sequence < last[u].Sequence {
			t.Fatalf("user %s: sequence %d after %d", u, g.event.Data.Sequence, last[u].Sequence)
		}
		last[u] = g.event.Data
	}
	for _, u := range users {
		if last[u].Sequence != 3 || last[u].Supersedes == nil || *last[u].Supersedes != (presence.Superseded{FromSequence: 1, ToSequence: 2}) {
			t.Errorf("user %s: last delivered sequence %d supersedes %+v, want 3 superseding 1–2", u, last[u].Sequence, last[u].Supersedes)
		}
	}
}

func TestAFailingEndpointsCircuitOpens(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, func(int) (int, http.Header) { return http.StatusInternalServerError, nil })
	f.endpoint(t, f.tenant, r)
	for range 3 {
		f.change(t, f.tenant, uuid.New(), "Busy", "Busy", "busy")
	}
	d := New(f.st, Options{AllowPrivate: true, Schedule: fast, BreakAfter: 2, Cooldown: time.Hour})
	ctx := context.Background()
	if n, _ := d.RunOnce(ctx); n != 3 {
		t.Fatalf("first round claimed %d", n)
	}
	f.due(t)
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Errorf("claimed %d deliveries for an endpoint whose circuit is open", n)
	}
	if s := f.status(t); s["pending"] != 3 {
		t.Errorf("statuses = %v: an open circuit must keep deliveries pending", s)
	}
}

func TestAnEchoOfWhatWeSetIsNotSentBack(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	u := uuid.New()
	ctx := context.Background()
	if err := f.st.RecordEcho(ctx, f.tenant, u, "Busy", "InACall", time.Minute); err != nil {
		t.Fatal(err)
	}
	f.change(t, f.tenant, u, "busy", "inacall", "talking") // Teams reports what we set
	f.change(t, f.tenant, u, "Available", "Available", "available")
	f.change(t, f.tenant, u, "Busy", "InACall", "talking") // the person really calls: the echo was used up
	New(f.st, Options{AllowPrivate: true}).RunOnce(ctx)
	for range 3 {
		New(f.st, Options{AllowPrivate: true}).RunOnce(ctx)
	}
	var acts []string
	for _, g := range r.all() {
		acts = append(acts, g.event.Data.Activity)
	}
	if strings.Join(acts, ",") != "Available,InACall" {
		t.Errorf("sent %v, want the echo suppressed and the rest sent", acts)
	}
	// Sequences count published events; the echo is recorded, suppressed.
	var echoes int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM presence_events WHERE suppressed = 'echo'`).Scan(&echoes)
	if p, _ := f.st.GetPresence(ctx, f.tenant, u); p.Sequence != 2 || echoes != 1 {
		t.Errorf("stored presence sequence %d with %d echo events recorded, want 2 and 1", p.Sequence, echoes)
	}
}

func TestATalkingFlapIsAbsorbedByTheDebounce(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	ctx := context.Background()
	apply := func(u uuid.UUID, act, state string) {
		t.Helper()
		err := f.st.InTx(ctx, func(tx store.Tx) error {
			_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: f.tenant, UserID: u, Availability: "Busy",
				Activity: act, MappedState: state, Source: "notification", ObservedAt: time.Now(), Debounce: time.Minute})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	flapper, leaver := uuid.New(), uuid.New()
	apply(flapper, "InACall", "talking")
	apply(flapper, "Busy", "busy")          // held for the window…
	apply(flapper, "InAMeeting", "talking") // …and absorbed: talking resumed
	apply(leaver, "InACall", "talking")
	apply(leaver, "Busy", "busy") // held; nothing resumes it
	d := New(f.st, Options{AllowPrivate: true})
	d.RunOnce(ctx)
	d.RunOnce(ctx)
	sent := map[uuid.UUID][]string{}
	for _, g := range r.all() {
		sent[g.event.Data.User.ObjectID] = append(sent[g.event.Data.User.ObjectID], g.event.Data.Activity)
	}
	if got := strings.Join(sent[flapper], ","); got != "InACall" {
		t.Errorf("flapping user: sent %s, want only InACall (the flap absorbed)", got)
	}
	if got := strings.Join(sent[leaver], ","); got != "InACall" {
		t.Errorf("leaving user before the window ends: sent %s, want InACall only so far", got)
	}
	// The window passes: the held event is published (presence.RunPublisher's work).
	testkit.Exec(t, f.pool, `UPDATE presence SET held_until = now() WHERE held_until IS NOT NULL`)
	if n, _, err := f.st.PublishHeld(ctx, 100); err != nil || n != 1 {
		t.Fatalf("published %d held events, %v", n, err)
	}
	d.RunOnce(ctx)
	sent = map[uuid.UUID][]string{}
	for _, g := range r.all() {
		sent[g.event.Data.User.ObjectID] = append(sent[g.event.Data.User.ObjectID], g.event.Data.Activity)
	}
	if got := strings.Join(sent[leaver], ","); got != "InACall,Busy" {
		t.Errorf("leaving user after the window: sent %s, want InACall,Busy", got)
	}
	if got := strings.Join(sent[flapper], ","); got != "InACall" {
		t.Errorf("flapping user after the window: sent %s", got)
	}
}

// TestRunDrainsABacklogWithoutWaitingForThePoll: with the poll interval an
// hour away, Run still delivers a backlog larger than an endpoint may have
// claimed at once (a finished send lets it claim more), and a user's second
// change as soon as the first is recorded — in order.
func TestRunDrainsABacklogWithoutWaitingForThePoll(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.endpoint(t, f.tenant, r)
	users := make([]uuid.UUID, 30)
	for i := range users {
		users[i] = uuid.New()
		f.change(t, f.tenant, users[i], "Busy", "InACall", "talking")
	}
	for _, u := range users[:3] {
		f.change(t, f.tenant, u, "Available", "Available", "available")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(f.st, Options{AllowPrivate: true, PerEndpoint: 1, Queue: 2}).Run(ctx, time.Hour)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for f.status(t)["delivered"] < 33 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if s := f.status(t); s["delivered"] != 33 {
		t.Fatalf("statuses = %v, want 33 delivered without waiting for the poll", s)
	}
	last := map[uuid.UUID]int64{}
	for _, g := range r.all() {
		u := g.event.Data.User.ObjectID
		if g.event.Data.Sequence <= last[u] {
			t.Fatalf("user %s: sequence %d after %d", u, g.event.Data.Sequence, last[u])
		}
		last[u] = g.event.Data.Sequence
	}
}

func TestAnotherTenantsSigningSecretNeverSignsEvenOnceOpened(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := storetest.Tenant(t, f.pool, "Fabrikam")
	secret, _ := NewSecret()
	id, err := f.st.PutSecret(ctx, &f.tenant, store.PurposeSigningSecret, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	d := New(f.st, Options{})
	if _, err := d.signerOf(ctx, f.tenant, id); err != nil {
		t.Fatalf("the owner's secret: %v", err)
	}
	// Opened and kept for its tenant, it is still refused to another.
	if _, err := d.signerOf(ctx, other, id); !errors.Is(err, store.ErrSecretOfAnother) {
		t.Errorf("another tenant signing with it: %v", err)
	}
}
