package onboarding

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const base = "https://bridge.example.com"

type fixture struct {
	t    *testing.T
	sim  *graphsim.Sim
	seed graphsim.Seed
	pool *pgxpool.Pool
	st   *store.Store
	svc  *Service
	mu   sync.Mutex
	now  time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }

// newFixture serves graphsim with our app registration and a tenant not
// consented yet; change, if any, edits the seed and the configuration
// before either is used.
func newFixture(t *testing.T, change ...func(*graphsim.Seed, *Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, sim: graphsim.New(graphsim.Options{}), now: time.Now()}
	srv := httptest.NewServer(f.sim.Handler())
	t.Cleanup(srv.Close)
	f.sim.SetBaseURL(srv.URL)
	f.seed = graphsim.GenerateSeed(2, 3, 3, 21)
	f.seed.App.RedirectURIs = []string{base + "/onboarding/consent/callback", base + "/onboarding/monitors/callback", base + "/onboarding/signin/callback"}
	f.seed.Tenants[0].Consented = false
	cfg := Config{
		App:     identity.App{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret},
		BaseURL: base, RequiredRoles: graphsim.DefaultApplication,
	}
	for _, c := range change {
		c(&f.seed, &cfg)
	}
	if err := f.sim.Apply(f.seed); err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(identity.Options{LoginURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ring := storetest.Ring(t)
	f.pool = testkit.DB(t)
	f.st = store.New(f.pool, ring)
	f.svc = New(f.st, id, links.New(ring, f.clock), cfg)
	return f
}

func (f *fixture) ten() graphsim.SeedTenant { return f.seed.Tenants[0] }

// invited creates a tenant from an invitation and fills the form for the
// first seeded tenant with its users.
func (f *fixture) invited() uuid.UUID {
	f.t.Helper()
	ctx := context.Background()
	_, link, err := f.svc.CreateInvite(ctx, "Contoso", "staff:ops@vendor.example", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	tok := strings.TrimPrefix(link, base+"/onboarding/i/")
	tenantID, err := f.svc.OpenInvite(ctx, tok)
	if err != nil {
		f.t.Fatalf("OpenInvite: %v", err)
	}
	var users []string
	for _, u := range f.ten().Users {
		users = append(users, u.UPN+",ext-"+u.ID.String()[:4])
	}
	fe, err := f.svc.SaveForm(ctx, tenantID, Form{Company: "Contoso Ltd", MicrosoftTenant: f.ten().Domain, AdminEmail: "it@contoso.example",
		TelephonyAccount: "acct-42", Users: strings.Join(users, "\n"), EventTarget: "webhook", WebhookURL: "https://events.example.com/presence"}, "admin")
	if err != nil || fe != nil {
		f.t.Fatalf("SaveForm: %v %v", fe, err)
	}
	return tenantID
}

// consented runs step 1 with the tenant's administrator.
func (f *fixture) consented(tenantID uuid.UUID) {
	f.t.Helper()
	u, err := f.svc.ConsentURL(context.Background(), tenantID, "state-c")
	if err != nil {
		f.t.Fatal(err)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), u, f.ten().Admin.UPN, f.ten().Admin.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.FinishConsent(context.Background(), tenantID, q, "admin"); err != nil {
		f.t.Fatalf("FinishConsent: %v", err)
	}
}

// signIn runs "Authorize now" for monitor m as the account seeded at index i.
func (f *fixture) signIn(tenantID uuid.UUID, m store.Monitor, as graphsim.SeedUser) error {
	f.t.Helper()
	si, err := f.svc.StartMonitorSignIn(context.Background(), tenantID, m.ID, "state-m")
	if err != nil {
		f.t.Fatal(err)
	}
	if got, _ := url.Parse(si.URL); got.Query().Get("login_hint") != m.UPN {
		f.t.Errorf("login_hint = %q, want %q", got.Query().Get("login_hint"), m.UPN)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), si.URL, as.UPN, as.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.svc.FinishMonitorSignIn(context.Background(), tenantID, m.ID, q, si, "admin")
}

func wantProblem(t *testing.T, err error, title string) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) || !strings.Contains(p.Title, title) || p.Detail == "" {
		t.Fatalf("err = %v, want a Problem titled %q with advice", err, title)
	}
}

func TestOnboardingFromInvitationToActiveTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	st, err := f.svc.Status(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 3 || st.MonitorsNeeded != 2 || st.CanComplete || st.Tenant.Name != "Contoso Ltd" || st.Tenant.TelephonyAccountID != "acct-42" {
		t.Fatalf("status after the form = %+v", st)
	}

	f.consented(tenantID)
	st, _ = f.svc.Status(ctx, tenantID)
	if st.Onboarding.ConsentStatus != "granted" || st.Tenant.MSTenantID == nil || *st.Tenant.MSTenantID != f.ten().ID {
		t.Fatalf("after consent: %+v %+v", st.Onboarding, st.Tenant)
	}

	m1, err := f.svc.AddMonitor(ctx, tenantID, f.ten().Monitors[0].UPN, "admin")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := f.svc.AddMonitor(ctx, tenantID, f.ten().Monitors[1].UPN, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddMonitor(ctx, tenantID, strings.ToUpper(f.ten().Monitors[1].UPN), "admin"); err == nil {
		t.Error("the same monitor was added twice")
	}
	// Monitor 1: Authorize now.
	if err := f.signIn(tenantID, m1, f.ten().Monitors[0]); err != nil {
		t.Fatalf("Authorize now: %v", err)
	}
	if err := f.svc.Complete(ctx, tenantID, "admin"); err == nil {
		t.Fatal("Complete succeeded with one of two monitors")
	} else {
		wantProblem(t, err, "More monitors are needed")
	}
	// Monitor 2: Copy URL, opened by whoever holds its credentials.
	link, exp, err := f.svc.IssueMonitorLink(ctx, tenantID, m2.ID, "admin")
	if err != nil || time.Until(exp) < 71*time.Hour {
		t.Fatalf("IssueMonitorLink: %v %v", exp, err)
	}
	lt, lm, err := f.svc.OpenMonitorLink(ctx, strings.TrimPrefix(link, base+"/onboarding/m/"))
	if err != nil || lt.ID != tenantID || lm.ID != m2.ID {
		t.Fatalf("OpenMonitorLink: %v", err)
	}
	if err := f.signIn(tenantID, m2, f.ten().Monitors[1]); err != nil {
		t.Fatalf("Copy URL sign-in: %v", err)
	}
	// The link has done its job.
	if _, _, err := f.svc.OpenMonitorLink(ctx, strings.TrimPrefix(link, base+"/onboarding/m/")); err == nil {
		t.Error("the Copy URL still works after the monitor signed in")
	}

	if err := f.svc.Complete(ctx, tenantID, "admin"); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	st, _ = f.svc.Status(ctx, tenantID)
	if !st.Completed || st.Tenant.Status != store.TenantActive || st.Authorized != 2 {
		t.Errorf("after Complete: %+v", st)
	}
	for _, m := range st.Monitors {
		if m.Status != store.MonitorAuthorized || m.AuthMethod != "code" || m.ObjectID == nil || m.TokenExpiresAt == nil {
			t.Errorf("monitor %s = %+v", m.UPN, m)
		}
	}
	var sealed int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE tenant_id = $1 AND purpose = 'monitor-refresh-token'`, tenantID).Scan(&sealed)
	if sealed != 2 {
		t.Errorf("sealed refresh tokens = %d, want 2", sealed)
	}
	log, _ := f.st.AuditLog(ctx, tenantID, 50)
	var actions []string
	for i := len(log) - 1; i >= 0; i-- {
		actions = append(actions, log[i].Action)
	}
	want := "invite.created form.saved consent.granted monitor.added monitor.added monitor.authorized monitor.link_created monitor.authorized onboarding.completed"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit log = %s\nwant        %s", strings.Join(actions, " "), want)
	}

	// The form's webhook is now an endpoint with a signing secret for the
	// summary page; an API key can be issued, shown once, stored hashed.
	ints, err := f.svc.Integrations(ctx, tenantID)
	if err != nil || len(ints) != 1 || ints[0].WebhookURL != "https://events.example.com/presence" || !ints[0].Enabled {
		t.Fatalf("integrations = %+v %v", ints, err)
	}
	secret, err := f.svc.SigningSecret(ctx, tenantID, ints[0].WebhookURL, "admin")
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("signing secret = %q, %v", secret, err)
	}
	storetest.RequireNotStored(t, f.pool, secret)
	if _, err := f.svc.SigningSecret(ctx, tenantID, "https://elsewhere.example.com/", "admin"); !errors.Is(err, ErrUnknownWebhook) {
		t.Errorf("another URL's secret: %v", err)
	}
	// Recorded as the tenant pages' and the API's reveal (deliver.RevealSecret).
	if log, _ := f.st.AuditLog(ctx, tenantID, 1); len(log) != 1 || log[0].Action != "endpoint.secret_revealed" ||
		log[0].Detail["host"] != "events.example.com" || log[0].Detail["endpoint"] == nil {
		t.Errorf("the reveal was not audited as deliver.RevealSecret audits it: %+v", log)
	}
	if err := f.svc.Complete(ctx, tenantID, "admin"); err != nil {
		t.Fatalf("Complete again: %v", err)
	}
	if again, _ := f.svc.Integrations(ctx, tenantID); len(again) != 1 {
		t.Errorf("completing twice made %d endpoints", len(again))
	}
	key, err := f.svc.NewAPIKey(ctx, tenantID, "platform", "admin")
	if err != nil || !strings.HasPrefix(key, "pbk_") {
		t.Fatalf("NewAPIKey = %q %v", key, err)
	}
	storetest.RequireNotStored(t, f.pool, key)
	if got, err := f.st.VerifyAPIKey(ctx, key); err != nil || got != tenantID {
		t.Errorf("the key does not verify for its tenant: %v", err)
	}
}

func TestConsentFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()

	u, _ := f.svc.ConsentURL(ctx, tenantID, "s")
	q, err := graphsim.NewPerson().Decline(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, f.svc.FinishConsent(ctx, tenantID, q, "admin"), "declined")
	o, _ := f.st.GetOnboarding(ctx, tenantID)
	if o.ConsentStatus != "failed" || !strings.Contains(o.ConsentError, "declined") {
		t.Errorf("onboarding after decline = %+v", o)
	}

	// A redirect that claims consent for another tenant (forged, or an
	// admin of another tenant) is caught by the independent check.
	other := f.seed.Tenants[1]
	forged := url.Values{"admin_consent": {"True"}, "tenant": {other.ID.String()}, "state": {"s"}}
	err = f.svc.FinishConsent(ctx, tenantID, forged, "admin")
	if err == nil {
		t.Fatal("forged consent accepted")
	}
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("err = %v", err)
	}
	// Our tenant has not consented, so confirmation fails before the
	// tenant comparison: either way nothing is granted.
	if st, _ := f.svc.Status(ctx, tenantID); st.Tenant.MSTenantID != nil || st.Onboarding.ConsentStatus == "granted" {
		t.Errorf("forged consent changed the tenant: %+v", st.Tenant)
	}

	// Now genuine consent, then a callback naming another tenant.
	f.consented(tenantID)
	err = f.svc.FinishConsent(ctx, tenantID, forged, "admin")
	wantProblem(t, err, "different Microsoft tenant")
	if st, _ := f.svc.Status(ctx, tenantID); *st.Tenant.MSTenantID != f.ten().ID || st.Onboarding.ConsentStatus != "granted" {
		t.Errorf("a failed retry undid consent: %+v %+v", st.Tenant, st.Onboarding)
	}
}

func TestMonitorSignInFailuresChangeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	m, _ := f.svc.AddMonitor(ctx, tenantID, f.ten().Monitors[0].UPN, "admin")
	if _, err := f.svc.StartMonitorSignIn(ctx, tenantID, m.ID, "s"); err == nil {
		t.Error("monitor sign-in started before consent")
	}
	f.consented(tenantID)

	// Signed in as the wrong account.
	wantProblem(t, f.signIn(tenantID, m, f.ten().Monitors[1]), "not as "+m.UPN)

	// Password once: off by default, then wrong password, then MFA.
	wantProblem(t, f.svc.PasswordSignIn(ctx, tenantID, m.ID, "x", "admin"), "turned off")
	f.st.SetAllowPasswordSignIn(ctx, tenantID, true)
	wantProblem(t, f.svc.PasswordSignIn(ctx, tenantID, m.ID, "wrong", "admin"), "password is wrong")
	f.sim.AddTokenFault(graphsim.TokenFault{User: m.UPN, Grant: "password", Error: "invalid_grant", Code: 50076,
		Message: "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access."})
	wantProblem(t, f.svc.PasswordSignIn(ctx, tenantID, m.ID, f.ten().Monitors[0].Password, "admin"), "multi-factor")

	got, _ := f.st.GetMonitor(ctx, tenantID, m.ID)
	if got.Status != store.MonitorPending || got.AuthorizedAt != nil {
		t.Errorf("failed sign-ins changed the monitor: %+v", got)
	}
	var n int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE tenant_id = $1`, tenantID).Scan(&n)
	if n != 0 {
		t.Errorf("%d secrets stored by failed sign-ins", n)
	}

	// A cancelled sign-in.
	si, _ := f.svc.StartMonitorSignIn(ctx, tenantID, m.ID, "s")
	q, _ := graphsim.NewPerson().Decline(ctx, si.URL)
	wantProblem(t, f.svc.FinishMonitorSignIn(ctx, tenantID, m.ID, q, si, "admin"), "cancelled")

	// Password once works when allowed, and the password is nowhere.
	m2, _ := f.svc.AddMonitor(ctx, tenantID, f.ten().Monitors[2].UPN, "admin")
	if err := f.svc.PasswordSignIn(ctx, tenantID, m2.ID, f.ten().Monitors[2].Password, "admin"); err != nil {
		t.Fatalf("password sign-in: %v", err)
	}
	storetest.RequireNotStored(t, f.pool, f.ten().Monitors[2].Password)
}

func TestCopyURLLinksExpireAndAreWithdrawnByRetry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	f.consented(tenantID)
	m, _ := f.svc.AddMonitor(ctx, tenantID, f.ten().Monitors[0].UPN, "admin")
	link, _, _ := f.svc.IssueMonitorLink(ctx, tenantID, m.ID, "admin")
	tok := strings.TrimPrefix(link, base+"/onboarding/m/")
	if _, _, err := f.svc.OpenMonitorLink(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RetryMonitor(ctx, tenantID, m.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.OpenMonitorLink(ctx, tok); err != ErrLinkRevoked {
		t.Errorf("link after Retry: %v", err)
	}
	link, _, _ = f.svc.IssueMonitorLink(ctx, tenantID, m.ID, "admin")
	f.mu.Lock()
	f.now = f.now.Add(MonitorLinkTTL + time.Minute)
	f.mu.Unlock()
	if _, _, err := f.svc.OpenMonitorLink(ctx, strings.TrimPrefix(link, base+"/onboarding/m/")); err != ErrLinkExpired {
		t.Errorf("link after 72 h: %v", err)
	}
	if _, _, err := f.svc.OpenMonitorLink(ctx, "k1.bm9wZQ"); err != ErrLinkInvalid {
		t.Errorf("forged link: %v", err)
	}
	if _, err := f.svc.OpenInvite(ctx, strings.TrimPrefix(link, base+"/onboarding/m/")); err == nil {
		t.Error("a monitor link opened as an invitation")
	}
}

func TestFormErrorsKeepWhatWasTyped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	bad := Form{Company: "", MicrosoftTenant: "not a domain", AdminEmail: "it@", TelephonyAccount: "acct",
		Users: "adele@contoso.example\nnot-a-user\n", EventTarget: "webhook", WebhookURL: "http://10.0.0.5/hook"}
	fe, err := f.svc.SaveForm(ctx, tenantID, bad, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"company": "name", "microsoftTenant": "neither", "adminEmail": "e-mail",
		"users": "Line 2", "webhookUrl": "https"} {
		if !strings.Contains(fe[field], want) {
			t.Errorf("error for %s = %q, want it to mention %q", field, fe[field], want)
		}
	}
	got, _ := f.svc.Form(ctx, tenantID)
	if got.Users != bad.Users || got.MicrosoftTenant != "not a domain" || got.WebhookURL != bad.WebhookURL {
		t.Errorf("form as stored = %+v", got)
	}
	if st, _ := f.svc.Status(ctx, tenantID); st.Users != 3 || st.Tenant.MSDomain != f.ten().Domain {
		t.Errorf("a form with errors changed the tenant or roster: %d users, domain %q", st.Users, st.Tenant.MSDomain)
	}
}

// The list's parsing is the roster's (roster.TestParseListAcceptsMixedSeparatorsAndAHeader);
// the form words its problems, naming the line.
func TestParseUsers(t *testing.T) {
	got, err := parseUsers("upn,telephony id\r\nadele@contoso.com; 1001\n\nalex@contoso.com\t1002\n")
	if err != nil || len(got) != 2 || got[0].TelephonyID != "1001" || got[1].UPN != "alex@contoso.com" || got[1].TelephonyID != "1002" {
		t.Fatalf("parseUsers = %+v, %v", got, err)
	}
	for in, want := range map[string]string{
		"":                      "at least one",
		"a@b.c\nA@B.C":          "Line 2: A@B.C is already on line 1",
		"a@b.c\n\"unterminated": "Line 2",
		"a@b.c\nbob":            `"bob"`,
	} {
		if _, err := parseUsers(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseUsers(%q) = %v, want %q", in, err, want)
		}
	}
	if MonitorsNeeded(0) != 1 || MonitorsNeeded(650) != 2 || MonitorsNeeded(651) != 3 || MonitorsNeeded(100_000) != 155 {
		t.Error("MonitorsNeeded is not ceil(users/650)+1")
	}
}
