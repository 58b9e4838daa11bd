package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// PurposeAccessToken seals a monitor's current access token, so that every
// instance can use a token another one refreshed.
const PurposeAccessToken = "monitor-access-token"

// Monitor statuses (monitors.status).
const (
	MonitorPending     = "pending"
	MonitorAuthorized  = "authorized"
	MonitorNeedsReauth = "needs_reauth"
	MonitorNeedsUpdate = "needs_update"
	MonitorDisabled    = "disabled"
)

// ErrMonitorNotFound is returned for a monitor that is not in the tenant.
var ErrMonitorNotFound = errors.New("monitor not found")

// Monitor is a presence-monitor account of a tenant.
type Monitor struct {
	ID              uuid.UUID
	TenantID        uuid.UUID
	UPN             string
	DisplayName     string
	ObjectID        *uuid.UUID
	Status          string
	AuthMethod      string // code, password or "" before sign-in
	AuthorizedAt    *time.Time
	TokenExpiresAt  *time.Time
	LastRefreshAt   *time.Time
	RefreshFailures int
	LastError       string
	LinkGeneration  int
	CreatedAt       time.Time
}

const monitorColumns = `id, tenant_id, upn, display_name, object_id, status, coalesce(auth_method, ''), authorized_at,
	token_expires_at, last_refresh_at, refresh_failures, coalesce(last_error, ''), link_generation, created_at`

func scanMonitor(row pgx.Row) (Monitor, error) {
	var m Monitor
	err := row.Scan(&m.ID, &m.TenantID, &m.UPN, &m.DisplayName, &m.ObjectID, &m.Status, &m.AuthMethod, &m.AuthorizedAt,
		&m.TokenExpiresAt, &m.LastRefreshAt, &m.RefreshFailures, &m.LastError, &m.LinkGeneration, &m.CreatedAt)
	return m, err
}

// AddMonitor records a monitor account to be authorized.
func (s *Store) AddMonitor(ctx context.Context, tenantID uuid.UUID, upn string) (Monitor, error) {
	m, err := scanMonitor(s.db.QueryRow(ctx, `INSERT INTO monitors (tenant_id, upn) VALUES ($1, $2) RETURNING `+monitorColumns, tenantID, upn))
	if err != nil {
		return m, fmt.Errorf("add monitor %s: %w", upn, err)
	}
	return m, nil
}

// Monitors lists a tenant's monitors, oldest first.
func (s *Store) Monitors(ctx context.Context, tenantID uuid.UUID) ([]Monitor, error) {
	rows, err := s.db.Query(ctx, `SELECT `+monitorColumns+` FROM monitors WHERE tenant_id = $1 AND removed_at IS NULL ORDER BY created_at, upn`, tenantID)
	if err != nil {
		return nil, wrap("monitors", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Monitor, error) { return scanMonitor(r) })
	return v, wrap("monitors", err)
}

// GetMonitor reads one monitor of a tenant.
func (s *Store) GetMonitor(ctx context.Context, tenantID, id uuid.UUID) (Monitor, error) {
	m, err := scanMonitor(s.db.QueryRow(ctx, `SELECT `+monitorColumns+` FROM monitors WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrMonitorNotFound
	}
	return m, wrap("get monitor", err)
}

// MonitorGrant is what a successful sign-in leaves: tokens to seal and who
// signed in.
type MonitorGrant struct {
	ObjectID     uuid.UUID
	DisplayName  string
	Method       string // code or password
	RefreshToken string
	AccessToken  string
	Expiry       time.Time
}

// AuthorizeMonitor seals a monitor's tokens and marks it authorized
// (run it in a transaction with the audit entry). Earlier tokens are
// replaced; the Copy-URL generation moves so old links stop working; a
// refresh of the earlier grant still under way loses its claim, so its
// result cannot replace these tokens.
func (s *Store) AuthorizeMonitor(ctx context.Context, tenantID, id uuid.UUID, g MonitorGrant) error {
	var rtID, atID *uuid.UUID
	err := s.db.QueryRow(ctx, `SELECT refresh_token_secret_id, access_token_secret_id FROM monitors WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		tenantID, id).Scan(&rtID, &atID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrMonitorNotFound
	}
	if err != nil {
		return wrap("authorize monitor", err)
	}
	rt, err := s.putOrReplace(ctx, rtID, tenantID, PurposeRefreshToken, g.RefreshToken)
	if err != nil {
		return wrap("authorize monitor", err)
	}
	at, err := s.putOrReplace(ctx, atID, tenantID, PurposeAccessToken, g.AccessToken)
	if err != nil {
		return wrap("authorize monitor", err)
	}
	_, err = s.db.Exec(ctx, `UPDATE monitors SET status = 'authorized', object_id = $3, display_name = $4, auth_method = $5,
		authorized_at = now(), refresh_token_secret_id = $6, access_token_secret_id = $7, token_expires_at = $8,
		last_refresh_at = now(), refresh_failures = 0, failure_days = 0, last_failure_day = NULL, retry_after = NULL,
		last_error = NULL, link_generation = link_generation + 1, link_key_id = NULL, link_expires_at = NULL,
		refresh_claimed_until = NULL, updated_at = now()
		WHERE tenant_id = $1 AND id = $2`, tenantID, id, g.ObjectID, g.DisplayName, g.Method, rt, at, g.Expiry)
	if err != nil {
		return wrap("authorize monitor", err)
	}
	return wrap("authorize monitor", s.ResolveAlert(ctx, tenantID, AlertMonitorNeedsReauth, id.String()))
}

func (s *Store) putOrReplace(ctx context.Context, id *uuid.UUID, tenantID uuid.UUID, purpose, value string) (uuid.UUID, error) {
	if id != nil {
		return *id, s.ReplaceSecret(ctx, *id, []byte(value))
	}
	return s.PutSecret(ctx, &tenantID, purpose, []byte(value))
}

// MonitorTokens is a monitor's token state, read under its row lock when
// a token refresh starts.
type MonitorTokens struct {
	Status         string
	UPN            string
	RefreshTokenID *uuid.UUID
	AccessTokenID  *uuid.UUID
	ExpiresAt      *time.Time
	Failures       int
	LastRefreshAt  *time.Time
	RetryAfter     *time.Time // transient failures: no refresh before then
	LastError      string
	// Refreshing: another refresh's claim is live (by the database's
	// clock); its result is on the way.
	Refreshing bool
}

// LockMonitorTokens locks a monitor's row (SELECT … FOR UPDATE) in tx and
// reads its token state, to decide whether to use its access token, wait
// for a refresh under way or claim one (ClaimMonitorRefresh) — never across
// the call to the identity platform, which may take 30 s.
func (s Tx) LockMonitorTokens(ctx context.Context, tenantID, id uuid.UUID) (MonitorTokens, error) {
	var t MonitorTokens
	err := s.db.QueryRow(ctx, `SELECT status, upn, refresh_token_secret_id, access_token_secret_id, token_expires_at, refresh_failures,
			last_refresh_at, retry_after, coalesce(last_error, ''), coalesce(refresh_claimed_until > now(), false)
		FROM monitors WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).
		Scan(&t.Status, &t.UPN, &t.RefreshTokenID, &t.AccessTokenID, &t.ExpiresAt, &t.Failures, &t.LastRefreshAt, &t.RetryAfter, &t.LastError,
			&t.Refreshing)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrMonitorNotFound
	}
	return t, wrap("lock monitor tokens", err)
}

// ClaimMonitorRefresh claims a monitor's token refresh for d, in the
// transaction whose LockMonitorTokens found no live claim, and returns the
// claim: the refresh's result is stored (SaveRefreshedTokens) or its
// failure recorded (MonitorRefreshFailed) only under it. A claim that runs
// out (its holder died) lets the next caller refresh.
func (s Tx) ClaimMonitorRefresh(ctx context.Context, tenantID, id uuid.UUID, d time.Duration) (time.Time, error) {
	var claim time.Time
	err := s.db.QueryRow(ctx, `UPDATE monitors SET refresh_claimed_until = now() + $3::interval WHERE tenant_id = $1 AND id = $2
		RETURNING refresh_claimed_until`, tenantID, id, d.String()).Scan(&claim)
	return claim, wrap("claim monitor refresh", err)
}

// ReleaseMonitorRefresh ends a claim that made no call (its app's
// credentials could not be had), so that others need not wait it out.
func (s *Store) ReleaseMonitorRefresh(ctx context.Context, tenantID, id uuid.UUID, claim time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE monitors SET refresh_claimed_until = NULL WHERE tenant_id = $1 AND id = $2 AND refresh_claimed_until = $3`,
		tenantID, id, claim)
	return wrap("release monitor refresh", err)
}

// SaveRefreshedTokens stores a refresh's result and ends its claim, if the
// claim still holds the monitor: the rotated refresh token replaces the
// old one (docs/identity.md#refresh-token-rotation). stored is false when
// the claim was lost — the monitor signed in again, or the claim ran out
// and another took it — and then nothing changed: what the row holds is
// newer than this result.
func (s Tx) SaveRefreshedTokens(ctx context.Context, tenantID, id uuid.UUID, claim time.Time, refreshToken, accessToken string,
	expiry, refreshedAt time.Time,
) (stored bool, err error) {
	var rtID, atID *uuid.UUID
	err = s.db.QueryRow(ctx, `UPDATE monitors SET token_expires_at = $4, last_refresh_at = $5, refresh_failures = 0, failure_days = 0,
			last_failure_day = NULL, retry_after = NULL, last_error = NULL, refresh_claimed_until = NULL, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND refresh_claimed_until = $3 AND status = 'authorized'
		RETURNING refresh_token_secret_id, access_token_secret_id`, tenantID, id, claim, expiry, refreshedAt).Scan(&rtID, &atID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("save refreshed tokens", err)
	}
	if refreshToken != "" && rtID != nil {
		if err := s.ReplaceSecret(ctx, *rtID, []byte(refreshToken)); err != nil {
			return false, wrap("save refreshed tokens", err)
		}
	}
	at, err := s.putOrReplace(ctx, atID, tenantID, PurposeAccessToken, accessToken)
	if err != nil {
		return false, wrap("save refreshed tokens", err)
	}
	if atID == nil {
		if _, err := s.db.Exec(ctx, `UPDATE monitors SET access_token_secret_id = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, at); err != nil {
			return false, wrap("save refreshed tokens", err)
		}
	}
	return true, nil
}

// GiveUpDays is how many days with failed refreshes (transient errors
// only, counted at most once a day) a monitor survives before it is
// marked "needs re-authorization".
const GiveUpDays = 4

// MonitorRefreshFailed records a failed refresh at now (the caller's
// clock) and ends its claim, if the claim still holds the monitor (see
// SaveRefreshedTokens; recorded is false when it did not, and nothing
// changed). needsReauth marks the monitor "needs re-authorization" (its
// grant is gone); otherwise the failure backs off (1 minute doubling to an
// hour) and counts toward GiveUpDays, at most once per UTC day. It returns
// the monitor's status after the update.
func (s *Store) MonitorRefreshFailed(ctx context.Context, tenantID, id uuid.UUID, claim time.Time, needsReauth bool, reason string,
	now time.Time,
) (status string, recorded bool, err error) {
	err = s.db.QueryRow(ctx, `WITH d AS (
			SELECT failure_days + CASE WHEN last_failure_day IS DISTINCT FROM ($5::timestamptz AT TIME ZONE 'UTC')::date THEN 1 ELSE 0 END AS days
			FROM monitors WHERE tenant_id = $1 AND id = $2)
		UPDATE monitors m SET refresh_failures = refresh_failures + 1, last_error = $3,
			failure_days = CASE WHEN $4 THEN m.failure_days ELSE d.days END,
			last_failure_day = CASE WHEN $4 THEN m.last_failure_day ELSE ($5::timestamptz AT TIME ZONE 'UTC')::date END,
			status = CASE WHEN $4 OR d.days >= $6 THEN 'needs_reauth' ELSE m.status END,
			retry_after = CASE WHEN $4 THEN NULL ELSE $5::timestamptz + least(interval '1 hour', interval '1 minute' * power(2, least(refresh_failures, 10))) END,
			refresh_claimed_until = NULL, updated_at = now()
		FROM d WHERE m.tenant_id = $1 AND m.id = $2 AND m.refresh_claimed_until = $7
		RETURNING m.status`, tenantID, id, reason, needsReauth, now, GiveUpDays, claim).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return status, err == nil, wrap("monitor refresh failed", err)
}

// MonitorsDueForRefresh lists a tenant's authorized monitors whose
// credentials were last refreshed before since: every credential is
// refreshed at least daily, used or not (a spare monitor's too), so a dead
// grant shows before its users need it.
func (s *Store) MonitorsDueForRefresh(ctx context.Context, tenantID uuid.UUID, since time.Time) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM monitors WHERE tenant_id = $1 AND status = 'authorized' AND removed_at IS NULL
		AND (last_refresh_at IS NULL OR last_refresh_at < $2) ORDER BY last_refresh_at NULLS FIRST`, tenantID, since)
	if err != nil {
		return nil, wrap("monitors due for refresh", err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return v, wrap("monitors due for refresh", err)
}

// MonitorStatus is one monitor's part in the engine (dashboard and API).
type MonitorStatus struct {
	MonitorID          uuid.UUID
	UPN, Status        string
	UsersAssigned      int
	SubscriptionID     string // Graph's id; "" when none
	ExpiresAt          *time.Time
	LastNotificationAt *time.Time
	LastError          string // the monitor's token error, else the subscription's
}

// MonitorStatuses lists a tenant's monitors with their users and subscription.
func (s *Store) MonitorStatuses(ctx context.Context, tenantID uuid.UUID) ([]MonitorStatus, error) {
	// The tenant's users are counted by monitor in one read: monitor_id
	// has no index (migration 000056), so a count per monitor would read
	// the tenant's rows once for each.
	rows, err := s.db.Query(ctx, `SELECT m.id, m.upn, m.status, coalesce(d.n, 0),
			coalesce(s.graph_id, ''), s.expires_at, s.last_notification_at, coalesce(m.last_error, s.last_error, '')
		FROM monitors m LEFT JOIN subscriptions s ON s.monitor_id = m.id
		LEFT JOIN (SELECT monitor_id, count(*) AS n FROM directory_users
			WHERE tenant_id = $1 AND monitor_id IS NOT NULL GROUP BY monitor_id) d ON d.monitor_id = m.id
		WHERE m.tenant_id = $1 AND m.removed_at IS NULL ORDER BY m.created_at, m.id`, tenantID)
	if err != nil {
		return nil, wrap("monitor statuses", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MonitorStatus, error) {
		var m MonitorStatus
		return m, r.Scan(&m.MonitorID, &m.UPN, &m.Status, &m.UsersAssigned, &m.SubscriptionID, &m.ExpiresAt, &m.LastNotificationAt, &m.LastError)
	})
	return v, wrap("monitor statuses", err)
}

// RemoveMonitor removes a monitor: at once when it holds no Graph
// subscription, else it is marked removed (out of every list, its users
// moved) and the engine deletes its subscription with its token, then the
// monitor (PurgeRemovedMonitors). deferred says which.
func (s *Store) RemoveMonitor(ctx context.Context, tenantID, id uuid.UUID) (deferred bool, err error) {
	tag, err := s.db.Exec(ctx, `UPDATE monitors m SET removed_at = now(), updated_at = now()
		WHERE m.tenant_id = $1 AND m.id = $2 AND m.removed_at IS NULL
		AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.monitor_id = m.id AND s.graph_id IS NOT NULL)`, tenantID, id)
	if err != nil {
		return false, wrap("remove monitor", err)
	}
	if tag.RowsAffected() == 1 {
		return true, wrap("remove monitor", s.unassignMonitor(ctx, tenantID, id))
	}
	return false, s.DeleteMonitor(ctx, tenantID, id)
}

// PurgeRemovedMonitors deletes the tenant's removed monitors whose
// subscription is gone.
func (s *Store) PurgeRemovedMonitors(ctx context.Context, tenantID uuid.UUID) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM monitors m WHERE tenant_id = $1 AND removed_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.monitor_id = m.id)`, tenantID)
	if err != nil {
		return wrap("purge removed monitors", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return wrap("purge removed monitors", err)
	}
	for _, id := range ids {
		if err := s.DeleteMonitor(ctx, tenantID, id); err != nil {
			return wrap("purge removed monitors", err)
		}
	}
	return nil
}

// DeleteMonitor removes a monitor, its sealed tokens and its users'
// placement on it, in one transaction.
func (s *Store) DeleteMonitor(ctx context.Context, tenantID, id uuid.UUID) error {
	return s.InTx(ctx, func(tx Tx) error {
		var rt, at *uuid.UUID
		err := tx.db.QueryRow(ctx, `DELETE FROM monitors WHERE tenant_id = $1 AND id = $2
			RETURNING refresh_token_secret_id, access_token_secret_id`, tenantID, id).Scan(&rt, &at)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrMonitorNotFound
		}
		if err != nil {
			return wrap("delete monitor", err)
		}
		// After the delete, not before: a placement on this monitor that
		// committed while the delete waited for its lock (AssignUsers
		// holds it FOR KEY SHARE) is seen by this statement's snapshot.
		if err := tx.unassignMonitor(ctx, tenantID, id); err != nil {
			return wrap("delete monitor", err)
		}
		for _, sid := range []*uuid.UUID{rt, at} {
			if sid != nil {
				if err := tx.DeleteSecret(ctx, *sid); err != nil {
					return wrap("delete monitor", err)
				}
			}
		}
		return nil
	})
}

// unassignMonitor takes the tenant's users off a monitor. directory_users
// has no key to monitors (migration 000056), so whatever ends a monitor's
// part says so here.
func (s *Store) unassignMonitor(ctx context.Context, tenantID, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE directory_users SET monitor_id = NULL, updated_at = now()
		WHERE tenant_id = $1 AND monitor_id = $2`, tenantID, id)
	return err
}

// MonitorSignInFailed records why a sign-in of a monitor that is not
// authorized failed, so its row says so and offers Retry; the status
// stays. An authorized monitor's failed sign-in changes nothing: it is
// still signed in.
func (s *Store) MonitorSignInFailed(ctx context.Context, tenantID, id uuid.UUID, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE monitors SET last_error = $3, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status <> 'authorized'`, tenantID, id, reason)
	return wrap("record monitor sign-in failure", err)
}

// ResetMonitorLink moves a monitor's Copy-URL generation (Retry, Renew):
// earlier links stop working, and need no seal key any more.
func (s *Store) ResetMonitorLink(ctx context.Context, tenantID, id uuid.UUID) (int, error) {
	var gen int
	err := s.db.QueryRow(ctx, `UPDATE monitors SET link_generation = link_generation + 1, link_key_id = NULL, link_expires_at = NULL,
		updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING link_generation`, tenantID, id).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrMonitorNotFound
	}
	return gen, wrap("reset monitor link", err)
}
