package alertmail_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/alertmail"
	"presencebridge/internal/mail"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	t      *testing.T
	st     *store.Store
	tenant uuid.UUID
	clock  *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testkit.DB(t)
	st := store.New(pool, storetest.Ring(t))
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active', admin_email = 'admin@contoso.example' WHERE id = $1`, tenant)
	return &fixture{t: t, st: st, tenant: tenant, clock: &clock{now: time.Now()}}
}

// sender is one instance's Sender: its own pool, sharing the database and
// the capture.
func (f *fixture) sender() *alertmail.Sender {
	f.t.Helper()
	pool, err := pgxpool.New(f.t.Context(), f.st.Pool().Config().ConnString())
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(pool.Close)
	st := store.New(pool, nil)
	return alertmail.New(st, alertmail.Options{Mailer: mail.NewCapture(st, ""), BaseURL: "https://bridge.example", Now: f.clock.Now})
}

// pass runs one pass of s and says how many mails went.
func (f *fixture) pass(s *alertmail.Sender) int {
	f.t.Helper()
	n, err := s.Pass(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// captured is the capture's content, oldest first.
func (f *fixture) captured() []store.CapturedMail {
	f.t.Helper()
	ms, err := f.st.CapturedMails(f.t.Context(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms
}

func (f *fixture) raise(kind, subject string, detail map[string]any) {
	f.t.Helper()
	if err := f.st.RaiseAlert(f.t.Context(), f.tenant, kind, subject, "Presence monitor m1@contoso.example must be authorized again: AADSTS50173.", detail); err != nil {
		f.t.Fatal(err)
	}
}

func TestAnAlertIsMailedWhenItOpensRemindedEvery24HoursAndOnceResolved(t *testing.T) {
	f := newFixture(t)
	s := f.sender()
	f.raise(store.AlertMonitorNeedsReauth, "m1", map[string]any{"upn": "m1@contoso.example"})
	if n := f.pass(s); n != 1 {
		t.Fatalf("the opening pass sent %d mails, want 1", n)
	}
	f.raise(store.AlertMonitorNeedsReauth, "m1", map[string]any{"upn": "m1@contoso.example"}) // seen again by the engine
	f.clock.Advance(23 * time.Hour)
	if n := f.pass(s); n != 0 {
		t.Fatalf("23 hours on, %d mails went, want none", n)
	}
	f.clock.Advance(time.Hour)
	if n := f.pass(s); n != 1 {
		t.Fatalf("24 hours on, %d mails went, want the reminder", n)
	}
	f.clock.Advance(24 * time.Hour)
	if n := f.pass(s); n != 1 {
		t.Fatalf("48 hours on, %d mails went, want the second reminder", n)
	}
	if err := f.st.ResolveAlert(t.Context(), f.tenant, store.AlertMonitorNeedsReauth, "m1"); err != nil {
		t.Fatal(err)
	}
	if n := f.pass(s); n != 1 {
		t.Fatalf("resolved: %d mails went, want the resolved one", n)
	}
	f.clock.Advance(72 * time.Hour)
	if n := f.pass(s); n != 0 {
		t.Fatalf("after the resolved mail, %d more went", n)
	}
	got := f.captured()
	wantSubjects := []string{
		"[Presence Bridge] Contoso: Presence monitor m1@contoso.example must sign in again",
		"[Presence Bridge] Contoso: Reminder: Presence monitor m1@contoso.example must sign in again",
		"[Presence Bridge] Contoso: Reminder: Presence monitor m1@contoso.example must sign in again",
		"[Presence Bridge] Contoso: Resolved: Presence monitor m1@contoso.example must sign in again",
	}
	if len(got) != len(wantSubjects) {
		t.Fatalf("captured %d mails, want %d", len(got), len(wantSubjects))
	}
	for i, m := range got {
		if m.Subject != wantSubjects[i] || strings.Join(m.To, ",") != "admin@contoso.example" {
			t.Errorf("mail %d: %q to %q, want %q to the tenant's admin", i, m.Subject, m.To, wantSubjects[i])
		}
	}
	for _, want := range []string{"must be authorized again: AADSTS50173.", "https://bridge.example/portal", "Authorize now"} {
		if !strings.Contains(got[0].Body, want) {
			t.Errorf("the opening mail lacks %q:\n%s", want, got[0].Body)
		}
	}
	if !strings.Contains(got[3].Body, "this is fixed") {
		t.Errorf("the resolved mail does not say so:\n%s", got[3].Body)
	}
	logged, err := f.st.MailLog(t.Context(), f.tenant, 10)
	if err != nil || len(logged) != 4 || logged[0].Reason != store.MailResolved || logged[3].Reason != store.MailOpened ||
		logged[0].Subject != wantSubjects[3] || logged[0].Recipients[0] != "admin@contoso.example" {
		t.Errorf("mail log: %+v, %v", logged, err)
	}
}

func TestAnAlertResolvedBeforeItsFirstMailIsNotMailed(t *testing.T) {
	f := newFixture(t)
	f.raise(store.AlertEndpointDisabled, "ep", map[string]any{"url": "https://pbx.example/hook"})
	if err := f.st.ResolveAlert(t.Context(), f.tenant, store.AlertEndpointDisabled, "ep"); err != nil {
		t.Fatal(err)
	}
	if n := f.pass(f.sender()); n != 0 {
		t.Errorf("%d mails about an alert nobody was told of", n)
	}
}

func TestAlertsOfKindsNotMailedStayInThePortal(t *testing.T) {
	f := newFixture(t)
	f.raise(store.AlertUsersUnresolved, "", nil)
	if n := f.pass(f.sender()); n != 0 {
		t.Errorf("%d mails about unresolved roster entries", n)
	}
}

func TestATenantWithoutContactsIsMailedOnceItHasOne(t *testing.T) {
	f := newFixture(t)
	testkit.Exec(t, f.st.Pool(), `UPDATE tenants SET admin_email = NULL WHERE id = $1`, f.tenant)
	f.raise(store.AlertUsersUnmonitored, "", nil)
	s := f.sender()
	if n := f.pass(s); n != 0 {
		t.Fatalf("%d mails to nobody", n)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE tenants SET admin_email = 'it@contoso.example' WHERE id = $1`, f.tenant)
	if n := f.pass(s); n != 1 {
		t.Fatalf("%d mails once a contact exists, want 1", n)
	}
	if got := f.captured(); len(got) != 1 || got[0].To[0] != "it@contoso.example" {
		t.Errorf("captured %+v", got)
	}
}

// Several instances mail at once: each opening and each resolved mail goes
// once, whichever instance sends it.
func TestTwoSendersAtOnceMailEachTransitionOnce(t *testing.T) {
	f := newFixture(t)
	const alerts = 40
	for i := range alerts {
		f.raise(store.AlertMonitorNeedsReauth, fmt.Sprint("m", i), map[string]any{"upn": fmt.Sprintf("m%d@contoso.example", i)})
	}
	senders := []*alertmail.Sender{f.sender(), f.sender()}
	race := func() int {
		t.Helper()
		var mu sync.Mutex
		total := 0
		var g errgroup.Group
		for _, s := range senders {
			g.Go(func() error {
				for {
					n, err := s.Pass(t.Context())
					if err != nil || n == 0 {
						return err
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		return total
	}
	if n := race(); n != alerts {
		t.Errorf("opening: %d mails went, want %d", n, alerts)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE alerts SET resolved_at = now() WHERE tenant_id = $1`, f.tenant)
	if n := race(); n != alerts {
		t.Errorf("resolved: %d mails went, want %d", n, alerts)
	}
	perAlert := map[string]int{}
	for _, m := range f.captured() {
		perAlert[m.Subject]++
	}
	if len(perAlert) != 2*alerts {
		t.Errorf("%d distinct mails, want %d", len(perAlert), 2*alerts)
	}
	for subject, n := range perAlert {
		if n != 1 {
			t.Errorf("%q went %d times", subject, n)
		}
	}
}
