package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CertsNotifyChannel is the LISTEN/NOTIFY channel signalled, with the
// certificate's id, when an encryption certificate is made.
const CertsNotifyChannel = "pb_certs"

// EncryptionCert is a stored notification-encryption certificate: its DER
// and the id of its sealed private key.
type EncryptionCert struct {
	ID       string
	DER      []byte
	SecretID [16]byte
	NotAfter time.Time
	Retired  bool
}

// LockEncryptionCerts serialises, until tx ends, the making of
// certificates across every process: concurrent callers agree on one.
func (s Tx) LockEncryptionCerts(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('presencebridge/encryption-certs'))`); err != nil {
		return fmt.Errorf("lock encryption certificates: %w", err)
	}
	return nil
}

// NewestEncryptionCert returns the newest certificate not retired; found
// is false when there is none.
func (s *Store) NewestEncryptionCert(ctx context.Context) (c EncryptionCert, found bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT id, certificate, private_key_secret_id, not_after FROM encryption_certs
		WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`).Scan(&c.ID, &c.DER, &c.SecretID, &c.NotAfter)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("newest encryption certificate: %w", err)
	}
	return c, true, nil
}

// InsertEncryptionCert stores a new certificate in tx and signals it on
// CertsNotifyChannel. The notification is sent at commit, with the row:
// every processor loads the certificate before the subscription that
// names it exists at Graph.
func (s Tx) InsertEncryptionCert(ctx context.Context, c EncryptionCert) error {
	_, err := s.db.Exec(ctx, `INSERT INTO encryption_certs (id, certificate, private_key_secret_id, not_after) VALUES ($1, $2, $3, $4)`,
		c.ID, c.DER, c.SecretID, c.NotAfter)
	if err != nil {
		return fmt.Errorf("insert encryption certificate %s: %w", c.ID, err)
	}
	if _, err := s.db.Exec(ctx, `SELECT pg_notify($1, $2)`, CertsNotifyChannel, c.ID); err != nil {
		return fmt.Errorf("notify encryption certificate %s: %w", c.ID, err)
	}
	return nil
}

// EncryptionCerts returns every certificate, retired ones marked.
func (s *Store) EncryptionCerts(ctx context.Context) ([]EncryptionCert, error) {
	rows, err := s.db.Query(ctx, `SELECT id, certificate, private_key_secret_id, retired_at IS NOT NULL FROM encryption_certs`)
	if err != nil {
		return nil, fmt.Errorf("list encryption certificates: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EncryptionCert, error) {
		var c EncryptionCert
		return c, r.Scan(&c.ID, &c.DER, &c.SecretID, &c.Retired)
	})
	if err != nil {
		return nil, fmt.Errorf("list encryption certificates: %w", err)
	}
	return all, nil
}

// RetireEncryptionCerts marks certificates that are neither the newest
// nor named by any subscription; it returns how many.
func (s *Store) RetireEncryptionCerts(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE encryption_certs c SET retired_at = now()
		WHERE retired_at IS NULL
		AND id <> (SELECT id FROM encryption_certs WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1)
		AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.cert_key_id = c.id)`)
	if err != nil {
		return 0, fmt.Errorf("retire encryption certificates: %w", err)
	}
	return tag.RowsAffected(), nil
}
