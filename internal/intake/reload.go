package intake

import (
	"context"
	"errors"
	"fmt"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// retryUnknownCertificates reloads our certificates from the database
// when an item of a known subscription names one the keys do not hold,
// and decrypts those items again. The first engine pass makes a
// certificate and at once a subscription with it, and Graph may notify
// within milliseconds — before this process heard of the certificate —
// while it sends each item once (Graph got its 202 already).
//
// Concurrent misses share one load, made on the transaction of the batch
// that started it (so it needs no connection of its own: the others wait
// holding theirs). A load they join may have begun
// before the certificate was committed, so a miss that joined one tries
// once more: that second load began after the first ended, so after the
// miss.
func (p *Processor) retryUnknownCertificates(ctx context.Context, tx store.Tx, m *memo, posts []post) error {
	if p.certs == nil {
		return nil
	}
	for range 2 {
		if !p.unknownCertificate(m, posts) {
			return nil
		}
		_, err, shared := p.loads.Do("certificates", func() (any, error) { return nil, p.certs.LoadFrom(ctx, tx.Store, p.keys) })
		if err != nil {
			// Nothing judged: the batch rolls back and is tried again.
			return fmt.Errorf("reload encryption certificates: %w", err)
		}
		p.decrypt(ctx, posts, true)
		if !shared {
			return nil
		}
	}
	return nil
}

// unknownCertificate says whether an item of a subscription of ours
// names a certificate the keys do not hold (items of unknown
// subscriptions are dropped whatever their certificate: no reload for
// them).
func (p *Processor) unknownCertificate(m *memo, posts []post) bool {
	for _, po := range posts {
		for i, n := range po.coll.Value {
			if _, ours := m.subs[n.SubscriptionID]; ours && errors.Is(po.plains[i].err, notification.ErrUnknownCertificate) {
				return true
			}
		}
	}
	return false
}
