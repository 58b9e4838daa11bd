package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/seal"
)

// Purposes of sealed secrets. The purpose is part of the AAD, so a refresh
// token cannot be passed off as a webhook secret, even by someone who can
// write to the database.
const (
	PurposeRefreshToken  = "monitor-refresh-token"
	PurposeClientSecret  = "app-client-secret"
	PurposeSigningSecret = "webhook-signing-secret"
)

// ErrSecretNotFound is returned for an unknown secret id.
var ErrSecretNotFound = errors.New("secret not found")

// ErrSecretOfAnother is returned for a secret that belongs to another
// tenant than the one asking (or to a tenant, when no tenant asks).
var ErrSecretOfAnother = errors.New("the secret belongs to another tenant")

// secretAAD binds a ciphertext to its row, tenant and purpose: moving it to
// another row, or relabelling it, makes it fail to open.
func secretAAD(id uuid.UUID, tenantID *uuid.UUID, purpose string) []byte {
	tenant := "-"
	if tenantID != nil {
		tenant = tenantID.String()
	}
	return seal.AAD("secrets", id.String(), tenant, purpose)
}

// PutSecret seals plaintext and stores it as a new row; it returns the id.
// tenantID is nil for secrets that belong to no tenant.
func (s *Store) PutSecret(ctx context.Context, tenantID *uuid.UUID, purpose string, plaintext []byte) (uuid.UUID, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return uuid.Nil, wrap("put secret", err)
	}
	keyID, ct, err := s.ring.Seal(plaintext, secretAAD(id, tenantID, purpose))
	if err != nil {
		return uuid.Nil, fmt.Errorf("seal %s: %w", purpose, err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO secrets (id, tenant_id, purpose, key_id, ciphertext) VALUES ($1, $2, $3, $4, $5)`,
		id, tenantID, purpose, keyID, ct)
	if err != nil {
		return uuid.Nil, fmt.Errorf("store %s: %w", purpose, err)
	}
	return id, nil
}

// ReplaceSecret seals a new value into an existing row (a rotated refresh
// token, say). Run it in the transaction that used the old value.
func (s *Store) ReplaceSecret(ctx context.Context, id uuid.UUID, plaintext []byte) error {
	var tenantID *uuid.UUID
	var purpose string
	err := s.db.QueryRow(ctx, `SELECT tenant_id, purpose FROM secrets WHERE id = $1`, id).Scan(&tenantID, &purpose)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("replace secret %s: %w", id, ErrSecretNotFound)
	}
	if err != nil {
		return fmt.Errorf("replace secret %s: %w", id, err)
	}
	keyID, ct, err := s.ring.Seal(plaintext, secretAAD(id, tenantID, purpose))
	if err != nil {
		return fmt.Errorf("seal %s: %w", purpose, err)
	}
	_, err = s.db.Exec(ctx, `UPDATE secrets SET key_id = $2, ciphertext = $3, updated_at = now() WHERE id = $1`, id, keyID, ct)
	if err != nil {
		return fmt.Errorf("replace secret %s: %w", id, err)
	}
	return nil
}

// OpenSecret reads and opens a secret, checking it belongs to owner (nil:
// to no tenant) and has the purpose expected. The owner is the tenant of
// the row that named the secret: a row of one tenant that points at
// another tenant's secret (a bug, or someone who can write a column) opens
// nothing — the AAD binds a ciphertext to its own row's tenant, not to
// whoever asks for it.
func (s *Store) OpenSecret(ctx context.Context, owner *uuid.UUID, id uuid.UUID, purpose string) ([]byte, error) {
	var tenantID *uuid.UUID
	var keyID, gotPurpose string
	var ct []byte
	err := s.db.QueryRow(ctx, `SELECT tenant_id, purpose, key_id, ciphertext FROM secrets WHERE id = $1`, id).
		Scan(&tenantID, &gotPurpose, &keyID, &ct)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("open secret %s: %w", id, ErrSecretNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", id, err)
	}
	if gotPurpose != purpose {
		return nil, fmt.Errorf("open secret %s: it is a %s, not a %s", id, gotPurpose, purpose)
	}
	if (tenantID == nil) != (owner == nil) || (owner != nil && *tenantID != *owner) {
		return nil, fmt.Errorf("open secret %s: %w", id, ErrSecretOfAnother)
	}
	pt, err := s.ring.Open(keyID, ct, secretAAD(id, tenantID, purpose))
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", id, err)
	}
	return pt, nil
}

// DeleteSecret removes a secret row.
func (s *Store) DeleteSecret(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM secrets WHERE id = $1`, id)
	return wrap("delete secret", err)
}

// RotateSecrets re-seals up to batch secrets that are not yet under the
// active key, in one transaction, and returns how many it re-sealed. Call it
// until it returns 0: committed batches stay done, so an interrupted rotation
// resumes where it stopped, and rows are claimed with SKIP LOCKED so several
// rotators never wait on each other.
func (s *Store) RotateSecrets(ctx context.Context, batch int) (int, error) {
	n := 0
	err := s.InTx(ctx, func(tx Tx) error {
		rows, err := tx.db.Query(ctx, `
			SELECT id, tenant_id, purpose, key_id, ciphertext FROM secrets
			WHERE key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, s.ring.ActiveID(), batch)
		if err != nil {
			return err
		}
		type row struct {
			id       uuid.UUID
			tenantID *uuid.UUID
			purpose  string
			keyID    string
			ct       []byte
		}
		todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.id, &x.tenantID, &x.purpose, &x.keyID, &x.ct)
		})
		if err != nil {
			return err
		}
		for _, r := range todo {
			if !s.ring.Has(r.keyID) {
				return fmt.Errorf("secret %s is sealed with key %q, which is not in the key ring: add that key back to PB_SEAL_KEYS until rotation finishes", r.id, r.keyID)
			}
			keyID, ct, _, err := s.ring.Reseal(r.keyID, r.ct, secretAAD(r.id, r.tenantID, r.purpose))
			if err != nil {
				return fmt.Errorf("re-seal secret %s: %w", r.id, err)
			}
			if _, err := tx.db.Exec(ctx, `UPDATE secrets SET key_id = $2, ciphertext = $3, updated_at = now() WHERE id = $1`, r.id, keyID, ct); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rotate secrets: %w", err)
	}
	return n, nil
}

// SecretsByKey counts secrets per key id, to show what a rotation has left.
func (s *Store) SecretsByKey(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT key_id, count(*) FROM secrets GROUP BY key_id`)
	if err != nil {
		return nil, wrap("secrets by key", err)
	}
	out := map[string]int{}
	var k string
	var c int
	_, err = pgx.ForEachRow(rows, []any{&k, &c}, func() error { out[k] = c; return nil })
	return out, wrap("secrets by key", err)
}
