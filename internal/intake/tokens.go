package intake

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
)

// validate checks the validationTokens of every post with rich items
// against the tenants its items come from, each with the app its
// subscriptions are made with, and keeps the posts that pass. One bad
// token makes the whole POST suspect (docs/graph.md#validation-tokens):
// all its items are dropped and the row is quarantined, kept for support
// to see what was sent (and replayable: an own app registration recorded
// since may make its tokens good). An error (the identity platform's keys
// unavailable) leaves the batch for a later try.
//
// The app comes from the item's subscription: its tenant's own app
// registration (tenant_apps, read with the tenant once per batch, so an
// own app recorded by onboarding counts from the next batch on) or ours.
// So a token whose audience is tenant A's app vouches for tenant A's
// items only, never for those of a tenant B on another app.
func (p *Processor) validate(posts []post, m *memo, st *Stats) ([]post, error) {
	kept := posts[:0]
	for _, po := range posts {
		expect := p.expect(po, m)
		if expect == nil {
			kept = append(kept, po)
			continue
		}
		if p.tokens == nil {
			return nil, errors.New("intake: rich notifications but no validation token checker")
		}
		err := p.tokens.Check(po.coll.ValidationTokens, expect)
		if err != nil && !errors.Is(err, notification.ErrInvalidToken) {
			return nil, fmt.Errorf("inbox row %d: %w", po.row.id, err) // keys unavailable: leave the batch for a later try
		}
		if err != nil {
			for _, n := range po.coll.Value {
				tenant := uuid.Nil
				if sub, ok := m.subs[n.SubscriptionID]; ok {
					tenant = sub.TenantID
				}
				p.drop(m, st, DropBadValidationToken, po.row, n, tenant, err)
			}
			p.quarantine(m, st, po.row, QuarantineBadValidationToken, err)
			continue
		}
		kept = append(kept, po)
	}
	return kept, nil
}

// expect lists the tenants of a post's items with the app each tenant's
// tokens must name, or nil when the post has no rich item (basic
// notifications carry no tokens). A tenant with a rich item of one of our
// subscriptions must have its token (Rich). Items of a subscription we no
// longer know, or of one of another tenant than they claim, are dropped
// whatever the tokens; a tenant that only they name is listed with our
// app, its token allowed (so that it does not make the POST suspect) but
// not required.
func (p *Processor) expect(po post, m *memo) []notification.Expect {
	rich := false
	index := map[string]int{}
	var expect []notification.Expect
	for _, n := range po.coll.Value {
		rich = rich || n.EncryptedContent != nil
		sub, ok := m.subs[n.SubscriptionID]
		if t := m.tenants[sub.TenantID]; !ok || (t.MSTenantID != nil && !strings.EqualFold(t.MSTenantID.String(), n.TenantID)) {
			continue
		}
		tid := strings.ToLower(n.TenantID)
		if i, seen := index[tid]; seen {
			expect[i].Rich = expect[i].Rich || n.EncryptedContent != nil
			continue
		}
		index[tid] = len(expect)
		expect = append(expect, notification.Expect{TenantID: tid, AppID: m.apps[sub.TenantID], Rich: n.EncryptedContent != nil})
	}
	if !rich {
		return nil
	}
	for _, n := range po.coll.Value {
		tid := strings.ToLower(n.TenantID)
		if _, seen := index[tid]; !seen {
			index[tid] = len(expect)
			expect = append(expect, notification.Expect{TenantID: tid})
		}
	}
	return expect
}
