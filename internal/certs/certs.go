// Package certs keeps Presence Bridge's encryption certificates for rich
// Graph notifications: a 2048-bit RSA key with a self-signed certificate
// (Graph does not check the issuer, docs/graph.md#rich-notifications), its private key
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
	"fmt"
	"math/big"
	"time"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// PurposePrivateKey seals a certificate's private key.
const PurposePrivateKey = "encryption-private-key"

// NotifyChannel is the LISTEN/NOTIFY channel signalled, with the
// certificate's id, when a certificate is made: processors load it at once
// (Load) rather than at their next periodic reload.
const NotifyChannel = store.CertsNotifyChannel

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
	err := m.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.LockEncryptionCerts(ctx); err != nil {
			return err
		}
		c, found, err := tx.NewestEncryptionCert(ctx)
		if err != nil {
			return err
		}
		if found && m.now().Add(Renew).Before(c.NotAfter) {
			key, err = m.open(ctx, tx.Store, c)
			return err
		}
		key, err = m.create(ctx, tx)
		return err
	})
	return key, err
}

func (m *Manager) create(ctx context.Context, tx store.Tx) (notification.Key, error) {
	key, err := NewKey(m.now())
	if err != nil {
		return notification.Key{}, err
	}
	sid, err := tx.PutSecret(ctx, nil, PurposePrivateKey, x509.MarshalPKCS1PrivateKey(key.Private))
	if err != nil {
		return notification.Key{}, err
	}
	if err := tx.InsertEncryptionCert(ctx, store.EncryptionCert{ID: key.ID, DER: key.Certificate.Raw, SecretID: sid, NotAfter: key.Certificate.NotAfter}); err != nil {
		return notification.Key{}, err
	}
	return key, nil
}

// NewKey makes a notification encryption key as the product uses one: a
// 2,048-bit RSA key and its self-signed certificate, valid from an hour
// before now for Lifetime, named by its creation time and serial number.
// Nothing is stored (create does that).
func NewKey(now time.Time) (notification.Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate serial number: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "Presence Bridge notification encryption"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(Lifetime), KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return notification.Key{}, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return notification.Key{}, fmt.Errorf("parse the certificate just made: %w", err)
	}
	id := "pb-" + now.UTC().Format("20060102T150405") + fmt.Sprintf("-%x", serial.Uint64()&0xffff)
	return notification.Key{ID: id, Certificate: cert, Private: priv}, nil
}

func (m *Manager) open(ctx context.Context, q *store.Store, c store.EncryptionCert) (notification.Key, error) {
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate %s: %w", c.ID, err)
	}
	raw, err := q.OpenSecret(ctx, nil, c.SecretID, PurposePrivateKey)
	if err != nil {
		return notification.Key{}, err
	}
	priv, err := x509.ParsePKCS1PrivateKey(raw)
	if err != nil {
		return notification.Key{}, fmt.Errorf("certificate %s private key: %w", c.ID, err)
	}
	return notification.Key{ID: c.ID, Certificate: cert, Private: priv}, nil
}

// Load puts every certificate not retired into keys (and drops retired
// ones), for the processor to decrypt with.
func (m *Manager) Load(ctx context.Context, keys *notification.Keys) error {
	return m.LoadFrom(ctx, m.st, keys)
}

// LoadFrom is Load reading through q (a Tx's Store): a processor that meets an unknown
// certificate in the middle of its transaction reloads on that
// transaction's connection, as waiting for another from a pool that its
// peers' transactions hold could wait for ever.
func (m *Manager) LoadFrom(ctx context.Context, q *store.Store, keys *notification.Keys) error {
	all, err := q.EncryptionCerts(ctx)
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.Retired {
			keys.Remove(c.ID)
			continue
		}
		k, err := m.open(ctx, q, c)
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
	return m.st.RetireEncryptionCerts(ctx)
}
