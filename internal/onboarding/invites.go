package onboarding

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// What support does with invitations beyond creating them, from the
// console and the `invite` command alike: a new invitation for a tenant
// whose admin lost theirs, and withdrawing one.

// CheckInviteTTL says whether an invitation may live ttl: a positive
// duration of at most MaxInviteTTL. The message completes "the link's
// lifetime …" / "--ttl …".
func CheckInviteTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxInviteTTL {
		return &Problem{fmt.Sprintf("must be a positive duration of at most %s (7 days) such as 72h, not %s:", MaxInviteTTL, ttl),
			"the link is a credential until its administrator signs in."}
	}
	return nil
}

// ErrNotInvitable: the tenant's onboarding is done (or it is suspended or
// deleted), so an invitation would open nothing.
var ErrNotInvitable = &Problem{"Only a tenant still in onboarding can be invited again.",
	"Once onboarding is complete, its administrators sign in to the portal; add one on the tenant's Admins page."}

// Reinvite gives a tenant still in onboarding a new invitation, valid
// for ttl, and withdraws those it had: the earlier link may have been
// lost, or used by an administrator who left (an invitation is bound to
// the first one to sign in). Audited as createdBy.
func (s *Service) Reinvite(ctx context.Context, tenantID uuid.UUID, createdBy string, ttl time.Duration) (string, error) {
	if err := CheckInviteTTL(ttl); err != nil {
		return "", err
	}
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	o, err := s.st.GetOnboarding(ctx, tenantID)
	if err != nil {
		return "", err
	}
	if t.Status != store.TenantOnboarding || o.CompletedAt != nil {
		return "", ErrNotInvitable
	}
	var link string
	err = s.tx(ctx, func(tx store.Tx) error {
		n, err := tx.RevokeTenantInvites(ctx, tenantID)
		if err != nil {
			return err
		}
		if n > 0 {
			if err := tx.Audit(ctx, &tenantID, createdBy, "invite.revoked", map[string]any{"invites": n, "reinvite": true}); err != nil {
				return err
			}
		}
		link, err = s.issueInvite(ctx, tx, tenantID, createdBy, ttl, map[string]any{"reinvite": true})
		return err
	})
	return link, err
}

// WithdrawInvite withdraws one invitation, named by its id (the console's
// list), audited as actor with its tenant. One already withdrawn stays so,
// and is not audited again.
func (s *Service) WithdrawInvite(ctx context.Context, inviteID uuid.UUID, actor string) error {
	return s.tx(ctx, func(tx store.Tx) error {
		tenantID, withdrawn, err := tx.WithdrawInvite(ctx, inviteID)
		if err != nil || !withdrawn {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "invite.revoked", map[string]any{"invite": inviteID})
	})
}
