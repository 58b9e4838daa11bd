// Package tokens gives out presence monitors' Graph access tokens.
//
// A monitor's refresh token rotates on every use, so two instances
// refreshing at once would each store a token the other then overwrites —
// and Entra would see twice the traffic. So a refresh is claimed: under
// the monitor's row lock, held for a few statements, a caller re-reads the
// row and either uses the sealed access token there (still fresh), waits
// for a refresh another instance has claimed, or claims one itself. The
// identity platform's call — up to 30 s — runs outside any transaction;
// the rotated refresh token and the new access token are stored together,
// and only while the claim still holds the monitor (a new sign-in meanwhile
// wins). Within one process a singleflight group folds concurrent callers
// into one database round, and a small cache serves the rest.
//
// A refresh that fails because the grant is gone (invalid_grant,
// interaction_required, MFA, revoked, expired) marks the monitor "needs
// re-authorization" with the reason and records it in the audit log;
// transient failures, and failures of the whole tenant's access (consent
// withdrawn: the engine degrades the tenant instead), are counted and
// returned for the caller to retry.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// Refresher redeems refresh tokens (*identity.Client).
type Refresher interface {
	Refresh(ctx context.Context, app identity.App, tenant, refreshToken string) (identity.Grant, error)
}

// Credentials names the app registration and the Microsoft tenant used for
// one of our tenants: our multi-tenant app, or the tenant's own.
type Credentials func(ctx context.Context, tenantID uuid.UUID) (app identity.App, msTenant string, err error)

// Margin is how long before expiry an access token counts as expired.
const Margin = 5 * time.Minute

// NotAuthorizedError is returned for a monitor that cannot give a token:
// not signed in yet, or needing re-authorization.
type NotAuthorizedError struct {
	Status string
	Reason string
}

func (e *NotAuthorizedError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("monitor is %s: %s", e.Status, e.Reason)
	}
	return "monitor is " + e.Status
}

// Vault hands out access tokens.
type Vault struct {
	store *store.Store
	id    Refresher
	creds Credentials
	now   func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	cache map[[2]uuid.UUID]cached // by (tenant, monitor)
}

type cached struct {
	token  string
	expiry time.Time
}

// New returns a Vault; now defaults to time.Now.
func New(st *store.Store, id Refresher, creds Credentials, now func() time.Time) *Vault {
	if now == nil {
		now = time.Now
	}
	return &Vault{store: st, id: id, creds: creds, now: now, cache: map[[2]uuid.UUID]cached{}}
}

// MonitorToken returns a Graph access token for the monitor, valid for at
// least Margin.
func (v *Vault) MonitorToken(ctx context.Context, tenantID, monitorID uuid.UUID) (string, error) {
	key := [2]uuid.UUID{tenantID, monitorID}
	if tok, ok := v.fromCache(key); ok {
		return tok, nil
	}
	res, err, _ := v.group.Do(tenantID.String()+"/"+monitorID.String(), func() (any, error) {
		if tok, ok := v.fromCache(key); ok {
			return tok, nil
		}
		tok, exp, err := v.refresh(context.WithoutCancel(ctx), tenantID, monitorID, ifExpired)
		if err != nil {
			return "", err
		}
		v.mu.Lock()
		v.cache[key] = cached{tok, exp}
		v.mu.Unlock()
		return tok, nil
	})
	if err != nil {
		return "", err
	}
	return res.(string), nil
}

// DailyRefresh is how often every credential is refreshed, used or not.
const DailyRefresh = 20 * time.Hour

// Refresh redeems the monitor's refresh token now unless another instance
// did within DailyRefresh: the engine calls it for every authorized
// monitor once a day, so a spare monitor's grant is exercised (and a dead
// one found) before its users need it.
func (v *Vault) Refresh(ctx context.Context, tenantID, monitorID uuid.UUID) error {
	return v.forced(ctx, tenantID, monitorID, ifDaily)
}

// Recheck redeems the monitor's refresh token now, whatever the age of its
// access token: after Graph says the monitor's access is lost
// (reauthorizationRequired), a revoked grant is found at once rather than
// when the cached access token expires.
func (v *Vault) Recheck(ctx context.Context, tenantID, monitorID uuid.UUID) error {
	return v.forced(ctx, tenantID, monitorID, always)
}

type refreshMode int

const (
	ifExpired refreshMode = iota // the access token is within Margin of expiry
	ifDaily                      // … or was refreshed DailyRefresh ago
	always
)

func (v *Vault) forced(ctx context.Context, tenantID, monitorID uuid.UUID, mode refreshMode) error {
	_, err, _ := v.group.Do(tenantID.String()+"/"+monitorID.String(), func() (any, error) {
		tok, exp, err := v.refresh(context.WithoutCancel(ctx), tenantID, monitorID, mode)
		if err != nil {
			return "", err
		}
		v.mu.Lock()
		v.cache[[2]uuid.UUID{tenantID, monitorID}] = cached{tok, exp}
		v.mu.Unlock()
		return tok, nil
	})
	return err
}

// BackingOffError is returned while a monitor's refresh backs off after a
// transient failure: no call is made to the identity platform before Until.
type BackingOffError struct {
	Until     time.Time
	LastError string
}

func (e *BackingOffError) Error() string {
	return fmt.Sprintf("token refresh backing off until %s after: %s", e.Until.UTC().Format(time.RFC3339), e.LastError)
}

// Forget drops a cached token (after Graph refused it, say).
func (v *Vault) Forget(tenantID, monitorID uuid.UUID) {
	v.mu.Lock()
	delete(v.cache, [2]uuid.UUID{tenantID, monitorID})
	v.mu.Unlock()
}

func (v *Vault) fromCache(id [2]uuid.UUID) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.cache[id]
	if ok && v.now().Add(Margin).Before(c.expiry) {
		return c.token, true
	}
	return "", false
}

// How long a refresh may take. The identity client gives up after 30 s
// (identity.Options); a claim outlasts its call by the time to store the
// result, so a claim that ran out means its holder died, and a caller
// waits out such a claim and still has time to refresh.
const (
	refreshCall    = 30 * time.Second
	refreshClaim   = refreshCall + 15*time.Second
	refreshTimeout = refreshClaim + refreshCall
	// claimPoll is how often a caller looks whether another instance's
	// refresh has finished (a refresh takes a few hundred milliseconds).
	claimPoll = 100 * time.Millisecond
)

// refresh returns the monitor's access token, redeeming its refresh token
// when mode asks for it (see the package comment).
func (v *Vault) refresh(ctx context.Context, tenantID, monitorID uuid.UUID, mode refreshMode) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	for {
		s, err := v.begin(ctx, tenantID, monitorID, mode)
		if err != nil {
			return "", time.Time{}, err
		}
		if s.token != "" {
			return s.token, s.expiry, nil
		}
		if !s.claim.IsZero() {
			tok, exp, stored, err := v.redeem(ctx, tenantID, monitorID, s)
			if err != nil || stored {
				return tok, exp, err
			}
		} else if err := pause(ctx); err != nil {
			return "", time.Time{}, fmt.Errorf("wait for another instance's refresh of monitor %s: %w", monitorID, err)
		}
		// Another refresh, or a sign-in, has the newer word: whatever mode
		// asked for, its result serves this caller too.
		mode = ifExpired
	}
}

// started is what a refresh found under the monitor's row lock: a token
// to use, or a claim with the refresh token to redeem, or neither while
// another instance's refresh is under way.
type started struct {
	token        string
	expiry       time.Time
	claim        time.Time
	refreshToken string
	row          store.MonitorTokens
}

// begin looks at the monitor's tokens under its row lock and claims a
// refresh if one is needed and none is under way.
func (v *Vault) begin(ctx context.Context, tenantID, monitorID uuid.UUID, mode refreshMode) (started, error) {
	var s started
	err := v.store.InTx(ctx, func(tx store.Tx) error {
		row, err := tx.LockMonitorTokens(ctx, tenantID, monitorID)
		if err != nil {
			return err
		}
		if row.Status != store.MonitorAuthorized || row.RefreshTokenID == nil {
			m, _ := tx.GetMonitor(ctx, tenantID, monitorID)
			return &NotAuthorizedError{Status: row.Status, Reason: m.LastError}
		}
		now := v.now()
		fresh := row.AccessTokenID != nil && row.ExpiresAt != nil && now.Add(Margin).Before(*row.ExpiresAt)
		if mode == always || mode == ifDaily && (row.LastRefreshAt == nil || now.Sub(*row.LastRefreshAt) >= DailyRefresh) {
			fresh = false
		}
		force := mode != ifExpired
		if !fresh && row.RetryAfter != nil && now.Before(*row.RetryAfter) {
			if !force && row.AccessTokenID != nil && row.ExpiresAt != nil && now.Before(*row.ExpiresAt) {
				fresh = true // inside the margin but still valid: better than nothing while backing off
			} else {
				return &BackingOffError{Until: *row.RetryAfter, LastError: row.LastError}
			}
		}
		// Someone else refreshed while we waited: use theirs.
		if fresh {
			at, err := tx.OpenSecret(ctx, &tenantID, *row.AccessTokenID, store.PurposeAccessToken)
			s.token, s.expiry = string(at), *row.ExpiresAt
			return err
		}
		if row.Refreshing {
			return nil
		}
		if s.claim, err = tx.ClaimMonitorRefresh(ctx, tenantID, monitorID, refreshClaim); err != nil {
			return err
		}
		rt, err := tx.OpenSecret(ctx, &tenantID, *row.RefreshTokenID, store.PurposeRefreshToken)
		s.refreshToken, s.row = string(rt), row
		return err
	})
	return s, err
}

// redeem calls the identity platform under s's claim, outside any
// transaction, and records the outcome while the claim still holds the
// monitor. stored is false when it no longer did: nothing was recorded,
// and what the row holds is newer.
func (v *Vault) redeem(ctx context.Context, tenantID, monitorID uuid.UUID, s started) (token string, expiry time.Time, stored bool, err error) {
	now := v.now()
	app, msTenant, err := v.creds(ctx, tenantID)
	if err != nil {
		return "", time.Time{}, true, errors.Join(err, v.store.ReleaseMonitorRefresh(ctx, tenantID, monitorID, s.claim))
	}
	callCtx, cancel := context.WithTimeout(ctx, refreshCall)
	g, err := v.id.Refresh(callCtx, app, msTenant, s.refreshToken)
	cancel()
	if err != nil {
		recorded, ferr := v.failed(ctx, tenantID, monitorID, s, err)
		if ferr != nil {
			return "", time.Time{}, true, errors.Join(err, ferr)
		}
		if recorded {
			v.Forget(tenantID, monitorID)
			return "", time.Time{}, true, err
		}
		return "", time.Time{}, false, nil
	}
	err = v.store.InTx(ctx, func(tx store.Tx) error {
		stored, err = tx.SaveRefreshedTokens(ctx, tenantID, monitorID, s.claim, g.RefreshToken, g.AccessToken, g.Expiry, now)
		return err
	})
	return g.AccessToken, g.Expiry, stored || err != nil, err
}

// pause waits claimPoll, or until ctx ends.
func pause(ctx context.Context) error {
	t := time.NewTimer(claimPoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failed records a refresh failure under s's claim; recorded is false
// when the claim no longer held the monitor.
func (v *Vault) failed(ctx context.Context, tenantID, monitorID uuid.UUID, s started, rerr error) (recorded bool, err error) {
	class := identity.ClassOf(rerr)
	reason := rerr.Error()
	var ie *identity.Error
	if errors.As(rerr, &ie) {
		reason = ie.Summary
		if reason == "" {
			reason = ie.Error()
		}
		reason += " — " + ie.Advice()
	}
	// A failure of the whole tenant's access (consent withdrawn, the app
	// disabled or its secret refused) is not this monitor's: the engine
	// degrades the tenant, and the monitor works again once it is fixed.
	_, tenantWide := identity.TenantProblemOf(rerr)
	reauth := (class == identity.Reauthorize || class == identity.ConsentMissing) && !tenantWide
	err = v.store.InTx(ctx, func(tx store.Tx) error {
		status, ok, err := tx.MonitorRefreshFailed(ctx, tenantID, monitorID, s.claim, reauth, reason, v.now())
		if recorded = ok; err != nil || status != store.MonitorNeedsReauth {
			return err
		}
		upn := s.row.UPN
		detail := map[string]any{"monitor": monitorID, "upn": upn, "class": class.String(), "reason": reason}
		if ie != nil {
			detail["aadsts"] = ie.AADSTS
		}
		msg := fmt.Sprintf("Presence monitor %s must be authorized again: %s", upn, reason)
		if !reauth {
			detail["gave_up_after_days"] = store.GiveUpDays
			msg = fmt.Sprintf("Presence monitor %s could not refresh its sign-in for %d days and must be authorized again: %s",
				upn, store.GiveUpDays, reason)
		}
		if err := tx.Audit(ctx, &tenantID, "system", "monitor.needs_reauth", detail); err != nil {
			return err
		}
		return tx.RaiseAlert(ctx, tenantID, store.AlertMonitorNeedsReauth, monitorID.String(), msg, detail)
	})
	return recorded, err
}
