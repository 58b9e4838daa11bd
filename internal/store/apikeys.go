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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrBadAPIKey is an unknown, revoked or malformed key. Any other error
// from AuthenticateAPIKey or VerifyAPIKey is the database's: the key was
// not judged.
var ErrBadAPIKey = errors.New("invalid API key")

// CreateAPIKey makes a key for a tenant and returns it in full: the only
// time it is seen. Only its SHA-256 is stored; its prefix finds the row.
// Format: pbk_<prefix>_<secret>.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID uuid.UUID, name string) (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", wrap("create api key", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(b)
	prefix := strings.ToLower(strings.NewReplacer("-", "x", "_", "y").Replace(enc[:8]))
	key := "pbk_" + prefix + "_" + enc[8:]
	h := sha256.Sum256([]byte(key))
	_, err := s.db.Exec(ctx, `INSERT INTO api_keys (tenant_id, name, prefix, hash) VALUES ($1, $2, $3, $4)`, tenantID, name, prefix, h[:])
	return key, wrap("create api key", err)
}

// APIKey is a verified key: its id (what the audit log names) and tenant.
type APIKey struct {
	ID       uuid.UUID
	TenantID uuid.UUID
}

// VerifyAPIKey returns the tenant a key belongs to.
func (s *Store) VerifyAPIKey(ctx context.Context, key string) (uuid.UUID, error) {
	k, err := s.AuthenticateAPIKey(ctx, key)
	return k.TenantID, wrap("verify api key", err)
}

// AuthenticateAPIKey returns the key a secret is: its id and tenant.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (APIKey, error) {
	rest, ok := strings.CutPrefix(key, "pbk_")
	prefix, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(prefix) != 8 {
		return APIKey{}, ErrBadAPIKey
	}
	var k APIKey
	var stored []byte
	err := s.db.QueryRow(ctx, `SELECT id, tenant_id, hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`, prefix).Scan(&k.ID, &k.TenantID, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrBadAPIKey
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("authenticate API key: %w", err)
	}
	h := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(h[:], stored) != 1 {
		return APIKey{}, ErrBadAPIKey
	}
	if _, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE prefix = $1`, prefix); err != nil {
		return k, fmt.Errorf("stamp API key use: %w", err)
	}
	return k, nil
}
