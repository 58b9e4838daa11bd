package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// API key scopes: what a key may do. A key holds one or more.
const (
	ScopeEventsRead    = "events:read"    // the event stream
	ScopePresenceRead  = "presence:read"  // presence, users, monitors, tenant status
	ScopePresenceWrite = "presence:write" // presence written into Teams, resyncs
	ScopeUsersWrite    = "users:write"    // the monitored users
	ScopeAdmin         = "admin"          // keys, endpoints, mapping rules: everything
)

// AllScopes lists every scope, in the order the API documents them.
var AllScopes = []string{ScopeEventsRead, ScopePresenceRead, ScopePresenceWrite, ScopeUsersWrite, ScopeAdmin}

// ErrBadAPIKey is an unknown, revoked, expired or malformed key, or one of
// a suspended or deleted tenant. Any other error from AuthenticateAPIKey or
// VerifyAPIKey is the database's: the key was not judged.
var ErrBadAPIKey = errors.New("invalid API key")

// ErrAPIKeyNotFound: no such key in the tenant.
var ErrAPIKeyNotFound = errors.New("API key not found")

// APIKey is a key as listed and as authenticated; its secret is never
// kept, only its SHA-256.
type APIKey struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Prefix     string // pbk_<prefix>_…: shown to people to tell keys apart
	Scopes     []string
	CreatedBy  string // the actor that made it, as in the audit log
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

// Has reports whether the key holds scope; admin holds every scope.
func (k APIKey) Has(scope string) bool {
	for _, s := range k.Scopes {
		if s == scope || s == ScopeAdmin {
			return true
		}
	}
	return false
}

// NewAPIKey is what a key is made with.
type NewAPIKey struct {
	Name      string
	Scopes    []string
	ExpiresAt *time.Time // nil: never
	CreatedBy string
}

// CreateAPIKey makes a key for a tenant and returns it in full, the only
// time it is seen, with its row. Only its SHA-256 is stored; its prefix
// finds the row. Format: pbk_<prefix>_<secret>.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID uuid.UUID, n NewAPIKey) (string, APIKey, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", APIKey{}, wrap("create api key", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(b)
	prefix := strings.ToLower(strings.NewReplacer("-", "x", "_", "y").Replace(enc[:8]))
	key := "pbk_" + prefix + "_" + enc[8:]
	h := sha256.Sum256([]byte(key))
	k, err := scanAPIKey(s.db.QueryRow(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, hash, scopes, expires_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+apiKeyColumns, tenantID, n.Name, prefix, h[:], n.Scopes, n.ExpiresAt, n.CreatedBy))
	if err != nil {
		return "", APIKey{}, wrap("create api key", err)
	}
	return key, k, nil
}

const apiKeyColumns = `id, tenant_id, name, prefix, scopes, created_by, created_at, last_used_at, expires_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt, &k.RevokedAt)
	return k, err
}

// APIKeys lists a tenant's keys, revoked ones too, newest first.
func (s *Store) APIKeys(ctx context.Context, tenantID uuid.UUID) ([]APIKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`, tenantID)
	if err != nil {
		return nil, wrap("api keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	return keys, wrap("api keys", err)
}

// GetAPIKey reads one of a tenant's keys.
func (s *Store) GetAPIKey(ctx context.Context, tenantID, id uuid.UUID) (APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrAPIKeyNotFound
	}
	return k, wrap("get api key", err)
}

// RevokeAPIKey stops a key working, at once and for good; revoking a
// revoked key changes nothing. It returns the key as it now is.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id uuid.UUID) (APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE tenant_id = $1 AND id = $2 RETURNING `+apiKeyColumns, tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrAPIKeyNotFound
	}
	return k, wrap("revoke api key", err)
}

// VerifyAPIKey returns the tenant a key belongs to.
func (s *Store) VerifyAPIKey(ctx context.Context, key string) (uuid.UUID, error) {
	k, err := s.AuthenticateAPIKey(ctx, key)
	return k.TenantID, wrap("verify api key", err)
}

// AuthenticateAPIKey returns the key a secret is. A revoked or expired key,
// or one of a suspended or deleted tenant, is ErrBadAPIKey, as an unknown
// one: the caller learns nothing about keys it does not hold. Its use is
// stamped when due (StampAPIKeyUse).
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (APIKey, error) {
	rest, ok := strings.CutPrefix(key, "pbk_")
	prefix, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(prefix) != 8 {
		return APIKey{}, ErrBadAPIKey
	}
	var stored []byte
	var usable bool
	var k APIKey
	err := s.db.QueryRow(ctx, `SELECT k.hash,
			k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AND t.status NOT IN ('`+TenantSuspended+`', '`+TenantDeleted+`'),
			k.id, k.tenant_id, k.name, k.prefix, k.scopes, k.created_by, k.created_at, k.last_used_at, k.expires_at, k.revoked_at
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.prefix = $1`, prefix).
		Scan(&stored, &usable, &k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrBadAPIKey
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("authenticate API key: %w", err)
	}
	h := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(h[:], stored) != 1 || !usable {
		return APIKey{}, ErrBadAPIKey
	}
	if APIKeyUseDue(k.LastUsedAt, time.Now()) {
		if err := s.StampAPIKeyUse(ctx, k.ID); err != nil {
			return k, err
		}
	}
	return k, nil
}

// APIKeyStampInterval is how often a key's use is stamped at most, so that
// reading presence at thousands of requests a second does not write a row
// for each.
const APIKeyStampInterval = time.Minute

// APIKeyUseDue reports whether a key last stamped at last is due a stamp
// at now.
func APIKeyUseDue(last *time.Time, now time.Time) bool {
	return last == nil || now.Sub(*last) > APIKeyStampInterval
}

// StampAPIKeyUse records that a key was used now, unless it was within
// APIKeyStampInterval (another instance may just have).
func (s *Store) StampAPIKeyUse(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1
		AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, id)
	return wrap("stamp API key use", err)
}

// APIKeyNotifyChannel is the LISTEN/NOTIFY channel on which the database
// announces, with the tenant's id as payload, any change that can make a
// tenant's keys stop working or change what they may do: a key revoked,
// expired early, changed or deleted, the tenant's status changed or the
// tenant deleted. Triggers send it (migration 000030) in the transaction
// that makes the change, whoever makes it; keycache listens.
const APIKeyNotifyChannel = "pb_api_keys"
