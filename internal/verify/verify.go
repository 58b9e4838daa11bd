// Package verify runs "Verify configuration": every check that tells
// whether a tenant's presence can flow — consent and its roles, each
// monitor's sign-in, the roster's resolution, subscriptions alive and
// covering exactly the roster, our notification URL, the tenant's webhook
// endpoints, notifications arriving — each with its result and the fix: an
// action Presence Bridge can take (the page shows a button) or a sentence
// saying what the customer must do. The console and the tenant portal show
// the same report.
package verify

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// Result is how a check came out.
type Result string

const (
	Pass Result = "pass"
	// Warn: presence flows, but something needs attention or could not be
	// told (no notification lately may be a quiet tenant).
	Warn Result = "warn"
	Fail Result = "fail"
)

// FixKind is an action Presence Bridge can take for a failed check; the
// pages map each to the button of the page that already does it.
type FixKind string

const (
	FixNone           FixKind = ""
	FixMonitorLink    FixKind = "monitor_link"    // make a Copy URL for the monitor to sign in again
	FixRenewMonitor   FixKind = "renew_monitor"   // ask the engine to remake or renew its subscription now
	FixEnableEndpoint FixKind = "enable_endpoint" // enable a disabled webhook endpoint
	FixSyncAll        FixKind = "sync_all"        // re-read every user's presence now
)

// Fix is what to do about a check that did not pass.
type Fix struct {
	Kind       FixKind
	MonitorID  uuid.UUID // FixMonitorLink, FixRenewMonitor
	EndpointID uuid.UUID // FixEnableEndpoint
	// Sentence says what to do in words: alone when only the customer can
	// act, beside the button otherwise.
	Sentence string
	// URL is where the customer acts, when there is one (admin consent).
	URL string
}

// Check is one check's outcome.
type Check struct {
	Name   string
	Result Result
	Detail string
	Fix    Fix
}

// Report is one run of every check.
type Report struct {
	TenantID uuid.UUID
	At       time.Time
	Took     time.Duration
	Checks   []Check
}

// Failed counts the checks that failed.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Result == Fail {
			n++
		}
	}
	return n
}

// AccessChecker asks the identity platform, not a cache, what the tenant's
// consent grants (engine.GraphClients).
type AccessChecker interface {
	CheckAccess(ctx context.Context, tenantID uuid.UUID) (engine.Access, error)
}

// Refresher redeems a monitor's refresh token now (tokens.Vault).
type Refresher interface {
	Recheck(ctx context.Context, tenantID, monitorID uuid.UUID) error
}

// Tester sends a signed test event to an endpoint (deliver.Deliverer).
type Tester interface {
	SendTest(ctx context.Context, tenant, endpoint uuid.UUID) (deliver.TestResult, error)
}

// Deps are what the checks use.
type Deps struct {
	Store  *store.Store
	Access AccessChecker
	Tokens Refresher
	Tester Tester
	// RequiredRoles are the application permissions presence needs
	// (onboarding.DefaultRequiredRoles); OptionalRoles those whose absence
	// only disables a feature (write-back) and is a warning.
	RequiredRoles, OptionalRoles []string
	// NotifyURL is the notification URL Graph posts to; HTTP makes the
	// handshake request to it (nil: http.DefaultClient).
	NotifyURL string
	HTTP      *http.Client
	// Quiet is how long without a notification is worth a warning
	// (default 30 minutes).
	Quiet time.Duration
	Now   func() time.Time
}

// Verifier runs the checks.
type Verifier struct{ d Deps }

// New returns a Verifier.
func New(d Deps) *Verifier {
	if d.HTTP == nil {
		d.HTTP = http.DefaultClient
	}
	if d.Quiet <= 0 {
		d.Quiet = 30 * time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Verifier{d: d}
}

// checkTimeout bounds each remote check (identity platform, an endpoint,
// our own URL), so one that hangs cannot hold the page.
const checkTimeout = 10 * time.Second

// Run runs every check for the tenant. The checks that call out (consent,
// monitors, the handshake, endpoints) run at the same time; an error is
// returned only when the tenant's own rows cannot be read.
func (v *Verifier) Run(ctx context.Context, tenantID uuid.UUID) (Report, error) {
	start := v.d.Now()
	cov, err := v.d.Store.SubscriptionCoverage(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	eps, err := v.d.Store.Endpoints(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	// The roster is counted before the checks run: the monitors' check
	// redeems each monitor's refresh token, and one refused marks its
	// monitor for a new sign-in, which makes its users unmonitored. Counted
	// beside it, the report said so or not as the two raced (a revoked
	// monitor's Verify showed one failed check or two, from run to run).
	// Counted first, the monitor's check alone fails, with its fix.
	users, err := v.d.Store.UserCountsOf(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	parts := []func(context.Context) ([]Check, error){
		func(ctx context.Context) ([]Check, error) { return []Check{v.consent(ctx, tenantID)}, nil },
		func(ctx context.Context) ([]Check, error) { return v.monitors(ctx, tenantID, cov), nil },
		func(ctx context.Context) ([]Check, error) { return v.roster(users), nil },
		func(ctx context.Context) ([]Check, error) { return v.subscriptions(cov), nil },
		func(ctx context.Context) ([]Check, error) { return []Check{v.notificationURL(ctx, cov)}, nil },
		func(ctx context.Context) ([]Check, error) { return v.endpoints(ctx, tenantID, eps), nil },
		func(ctx context.Context) ([]Check, error) { return v.flowing(ctx, tenantID, cov) },
	}
	results := make([][]Check, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() { results[i], errs[i] = part(ctx) })
	}
	wg.Wait()
	r := Report{TenantID: tenantID, At: start}
	for i := range parts {
		if errs[i] != nil {
			return Report{}, errs[i]
		}
		r.Checks = append(r.Checks, results[i]...)
	}
	r.Took = v.d.Now().Sub(start)
	return r, nil
}

// consent asks the identity platform for a new app-only token: its roles
// are what the tenant's consent grants now.
func (v *Verifier) consent(ctx context.Context, tenantID uuid.UUID) Check {
	c := Check{Name: "Admin consent and permissions"}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	acc, err := v.d.Access.CheckAccess(ctx, tenantID)
	if err != nil {
		c.Result, c.Detail = Fail, "Microsoft refused an app-only token for the tenant: "+err.Error()
		c.Fix = Fix{Sentence: "A Global Administrator of the customer's tenant grants consent again.", URL: acc.ConsentURL}
		return c
	}
	missing := func(roles []string) []string {
		var out []string
		for _, r := range roles {
			if !slices.ContainsFunc(acc.Roles, func(g string) bool { return strings.EqualFold(g, r) }) {
				out = append(out, r)
			}
		}
		return out
	}
	switch req, opt := missing(v.d.RequiredRoles), missing(v.d.OptionalRoles); {
	case len(req) > 0:
		c.Result, c.Detail = Fail, "Consent is given but lacks "+strings.Join(req, ", ")+": presence cannot be read."
		c.Fix = Fix{Sentence: "A Global Administrator grants consent again (Grant again).", URL: acc.ConsentURL}
	case len(opt) > 0:
		c.Result, c.Detail = Warn, "Consent lacks "+strings.Join(opt, ", ")+": presence cannot be written into Teams."
		c.Fix = Fix{Sentence: "A Global Administrator grants consent again (Grant again) to allow write-back.", URL: acc.ConsentURL}
	default:
		c.Result, c.Detail = Pass, "Granted: "+strings.Join(acc.Roles, ", ")+"."
	}
	return c
}

// monitors redeems every monitor's refresh token now, a few at a time.
func (v *Verifier) monitors(ctx context.Context, tenantID uuid.UUID, cov []store.Coverage) []Check {
	out := make([]Check, len(cov))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, m := range cov {
		out[i] = Check{Name: "Monitor " + m.UPN + " signs in"}
		if m.Status != store.MonitorAuthorized {
			out[i].Result = Fail
			out[i].Detail = "The monitor is " + strings.ReplaceAll(m.Status, "_", " ") + ": it holds no working sign-in."
			out[i].Fix = Fix{Kind: FixMonitorLink, MonitorID: m.MonitorID,
				Sentence: "The monitor account signs in again (Authorize now, or send it a Copy URL)."}
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			if err := v.d.Tokens.Recheck(ctx, tenantID, m.MonitorID); err != nil {
				out[i].Result, out[i].Detail = Fail, "Its refresh token was refused: "+err.Error()
				out[i].Fix = Fix{Kind: FixMonitorLink, MonitorID: m.MonitorID,
					Sentence: "The monitor account signs in again (Authorize now, or send it a Copy URL)."}
				return
			}
			out[i].Result, out[i].Detail = Pass, "Its sign-in was refreshed just now."
		})
	}
	wg.Wait()
	if len(cov) == 0 {
		out = append(out, Check{Name: "Monitors", Result: Fail, Detail: "The tenant has no presence monitor.",
			Fix: Fix{Sentence: "Add a monitor on the Monitors page and sign it in."}})
	}
	return out
}

// roster: every listed user resolves to an enabled account, and every
// resolved user is assigned to an authorized monitor, by the counts n.
func (v *Verifier) roster(n store.UserCounts) []Check {
	res := Check{Name: "Users resolve in the directory", Result: Pass,
		Detail: fmt.Sprintf("All %d users on the roster resolve.", n.Total)}
	switch {
	case n.Total == 0:
		res.Result, res.Detail = Fail, "The roster is empty: nobody's presence is followed."
		res.Fix = Fix{Sentence: "Add users on the Users page (a list, a CSV file, or an Entra group)."}
	case n.Unresolved > 0:
		res.Result = Warn
		res.Detail = fmt.Sprintf("%d of %d users do not resolve (not found, disabled or duplicate).", n.Unresolved, n.Total)
		res.Fix = Fix{Sentence: "Correct or remove them on the Users page, where each says why."}
	case n.Pending > 0:
		res.Result, res.Detail = Warn, fmt.Sprintf("%d users are still being looked up in the directory.", n.Pending)
	}
	mon := Check{Name: "Every resolved user is monitored", Result: Pass,
		Detail: fmt.Sprintf("%d users monitored.", n.Monitored)}
	if n.Unmonitored > 0 {
		mon.Result = Fail
		mon.Detail = fmt.Sprintf("%d resolved users have no authorized monitor to cover them.", n.Unmonitored)
		mon.Fix = Fix{Sentence: fmt.Sprintf("Sign in the monitors that need it, or add monitors (each covers up to %d users).",
			graphapi.MaxPresenceIDs)}
	}
	return []Check{res, mon}
}
