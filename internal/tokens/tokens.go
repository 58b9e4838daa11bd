// Package tokens gives out presence monitors' Graph access tokens.
//
// A monitor's refresh token rotates on every use, so two instances
// refreshing at once would each store a token the other then overwrites —
// and Entra would see twice the traffic. So a refresh happens under the
// monitor's row lock (SELECT … FOR UPDATE): whoever holds it re-reads the
// row, refreshes only if the sealed access token there is about to expire,
// and stores the rotated refresh token and the new access token in the same
// transaction. Within one process a singleflight group folds concurrent
// callers into one database round, and a small cache serves the rest.
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

// refresh runs under the monitor's row lock.
func (v *Vault) refresh(ctx context.Context, tenantID, monitorID uuid.UUID, mode refreshMode) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var (
		token  string
		expiry time.Time
		rerr   error // the refresh's failure, recorded and committed
	)
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
		// Someone else refreshed while we waited for the lock: use theirs.
		if fresh {
			at, err := tx.OpenSecret(ctx, &tenantID, *row.AccessTokenID, store.PurposeAccessToken)
			token, expiry = string(at), *row.ExpiresAt
			return err
		}
		rt, err := tx.OpenSecret(ctx, &tenantID, *row.RefreshTokenID, store.PurposeRefreshToken)
		if err != nil {
			return err
		}
		app, msTenant, err := v.creds(ctx, tenantID)
		if err != nil {
			return err
		}
		g, err := v.id.Refresh(ctx, app, msTenant, string(rt))
		if err != nil {
			if ferr := v.failed(ctx, tx, tenantID, monitorID, row, err); ferr != nil {
				return errors.Join(err, ferr)
			}
			rerr = err
			return nil
		}
		token, expiry = g.AccessToken, g.Expiry
		return tx.SaveRefreshedTokens(ctx, tenantID, monitorID, row, g.RefreshToken, g.AccessToken, g.Expiry, now)
	})
	if err != nil {
		return "", time.Time{}, err
	}
	if rerr != nil {
		v.Forget(tenantID, monitorID)
		return "", time.Time{}, rerr
	}
	return token, expiry, nil
}

// failed records a refresh failure in tx.
func (v *Vault) failed(ctx context.Context, tx store.Tx, tenantID, monitorID uuid.UUID, row store.MonitorTokens, rerr error) error {
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
	status, err := tx.MonitorRefreshFailed(ctx, tenantID, monitorID, reauth, reason, v.now())
	if err != nil {
		return err
	}
	if status == store.MonitorNeedsReauth {
		detail := map[string]any{"monitor": monitorID, "upn": row.UPN, "class": class.String(), "reason": reason}
		if ie != nil {
			detail["aadsts"] = ie.AADSTS
		}
		msg := fmt.Sprintf("Presence monitor %s must be authorized again: %s", row.UPN, reason)
		if !reauth {
			detail["gave_up_after_days"] = store.GiveUpDays
			msg = fmt.Sprintf("Presence monitor %s could not refresh its sign-in for %d days and must be authorized again: %s",
				row.UPN, store.GiveUpDays, reason)
		}
		if err := tx.Audit(ctx, &tenantID, "system", "monitor.needs_reauth", detail); err != nil {
			return err
		}
		if err := tx.RaiseAlert(ctx, tenantID, store.AlertMonitorNeedsReauth, monitorID.String(), msg, detail); err != nil {
			return err
		}
	}
	return nil
}
