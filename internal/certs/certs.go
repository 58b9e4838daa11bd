// Package certs keeps Presence Bridge's encryption certificates for rich
// Graph notifications: a 2048-bit RSA key with a self-signed certificate
// (Graph does not check the issuer, graph-facts §4.5), its private key
// sealed in the database, one active at a time. A new certificate is made
// when the active one nears its end; old ones stay readable until no
// subscription names them, so notifications in flight still decrypt.
package certs

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// PurposePrivateKey seals a certificate's private key.
const PurposePrivateKey = "encryption-private-key"

// NotifyChannel is the LISTEN/NOTIFY channel signalled, with the
// certificate's id, when a certificate is made: processors load it at once
// (Load) rather than at their next periodic reload.
const NotifyChannel = "pb_certs"

// Lifetime of a certificate, and how long before its end a new one is made.
const (
	Lifetime = 180 * 24 * time.Hour
	Renew    = 30 * 24 * time.Hour
)

// Manager makes, loads and retires certificates.
type Manager struct {
	st  *store.Store
	now func() time.Time
}

// New returns a Manager; now defaults to time.Now.
func New(st *store.Store, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, now: now}
}

// Active returns the certificate new subscriptions use, making one when
// there is none or the newest nears its end. Concurrent callers in several
// processes agree on one (an advisory lock serialises the creation).
func (m *Manager) Active(ctx context.Context) (notification.Key, error) {
	var key notification.Key
	err := pgx.BeginFunc(ctx, m.st.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('presencebridge/encryption-certs'))`); err != nil {
			return err
		}
		var id string
		var der []byte
		var secretID [16]byte
		var notAfter time.Time
		err := tx.QueryRow(ctx, `SELECT id, certificate, private_key_secret_id, not_after FROM encryption_certs
			WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`).Scan(&id, &der, &secretID, &notAfter)
		if err == nil && m.now().Add(Renew).Before(notAfter) {
			key, err = m.open(ctx, tx, id, der, secretID)
			return err
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		key, err = m.create(ctx, tx)
		return err
	})
	return key, err
}

func (m *Manager) create(ctx context.Context, tx pgx.Tx) (notification.Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return notification.Key{}, err
	}
	now := m.now()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "Presence Bridge notification encryption"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(Lifetime), KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return notification.Key{}, err
	}
	cert, _ := x509.ParseCertificate(der)
	id := "pb-" + now.UTC().Format("20060102T150405") + fmt.Sprintf("-%x", serial.Uint64()&0xffff)
	sid, err := m.st.PutSecret(ctx, tx, nil, PurposePrivateKey, x509.MarshalPKCS1PrivateKey(priv))
	if err != nil {
		return notification.Key{}, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO encryption_certs (id, certificate, private_key_secret_id, not_after) VALUES ($1, $2, $3, $4)`,
		id, der, sid, cert.NotAfter)
	if err != nil {
		return notification.Key{}, err
	}
	// Sent at commit, with the row: every processor loads the certificate
	// before the subscription that names it exists at Graph.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, id); err != nil {
		return notification.Key{}, err
	}
	return notification.Key{ID: id, Certificate: cert, Private: priv}, nil
}

func (m *Manager) open(ctx context.Context, q store.DBTX, id string, der []byte, secretID [16]byte) (notification.Key, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate %s: %w", id, err)
	}
	raw, err := m.st.OpenSecret(ctx, q, secretID, PurposePrivateKey)
	if err != nil {
		return notification.Key{}, err
	}
	priv, err := x509.ParsePKCS1PrivateKey(raw)
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate %s private key: %w", id, err)
	}
	return notification.Key{ID: id, Certificate: cert, Private: priv}, nil
}

// Load puts every certificate not retired into keys (and drops retired
// ones), for the processor to decrypt with.
func (m *Manager) Load(ctx context.Context, keys *notification.Keys) error {
	return m.LoadFrom(ctx, m.st.Pool(), keys)
}

// LoadFrom is Load reading through q: a processor that meets an unknown
// certificate in the middle of its transaction reloads on that
// transaction's connection, as waiting for another from a pool that its
// peers' transactions hold could wait for ever.
func (m *Manager) LoadFrom(ctx context.Context, q store.DBTX, keys *notification.Keys) error {
	rows, err := q.Query(ctx, `SELECT id, certificate, private_key_secret_id, retired_at IS NOT NULL FROM encryption_certs`)
	if err != nil {
		return err
	}
	type row struct {
		id      string
		der     []byte
		secret  [16]byte
		retired bool
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.der, &x.secret, &x.retired)
	})
	if err != nil {
		return err
	}
	for _, x := range all {
		if x.retired {
			keys.Remove(x.id)
			continue
		}
		k, err := m.open(ctx, q, x.id, x.der, x.secret)
		if err != nil {
			return err
		}
		keys.Add(k)
	}
	return nil
}

// Retire marks certificates that are neither active nor named by any
// subscription; it returns how many.
func (m *Manager) Retire(ctx context.Context) (int64, error) {
	tag, err := m.st.Pool().Exec(ctx, `UPDATE encryption_certs c SET retired_at = now()
		WHERE retired_at IS NULL
		AND id <> (SELECT id FROM encryption_certs WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1)
		AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.cert_key_id = c.id)`)
	return tag.RowsAffected(), err
}
