package onboarding

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// A tenant still in onboarding gets a new invitation that works, its
// earlier ones withdrawn, both audited as the staff member; a tenant whose
// onboarding is complete is refused (its admins use the portal).
func TestReinviteWithdrawsTheEarlierInvitationsAndMakesOneThatWorks(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inv, old := f.invitation()
	if _, err := f.svc.Reinvite(ctx, inv.TenantID, "staff:ops", MaxInviteTTL+time.Minute); err == nil {
		t.Error("a re-invitation longer than MaxInviteTTL was made")
	}
	link, err := f.svc.Reinvite(ctx, inv.TenantID, "staff:ops", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Invitation(ctx, old); !errors.Is(err, ErrLinkRevoked) {
		t.Errorf("the earlier link after a re-invitation: %v, want withdrawn", err)
	}
	got, err := f.svc.Invitation(ctx, link[strings.LastIndex(link, "/")+1:])
	if err != nil || got.TenantID != inv.TenantID {
		t.Fatalf("the new link: %+v, %v", got, err)
	}
	var actions string
	if err := f.pool.QueryRow(ctx, `SELECT string_agg(action || ':' || coalesce(detail->>'reinvite', ''), ' ' ORDER BY id) FROM audit_log
		WHERE tenant_id = $1 AND actor = 'staff:ops'`, inv.TenantID).Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if actions != "invite.revoked:true invite.created:true" {
		t.Errorf("audited: %q", actions)
	}

	if err := f.st.CompleteOnboarding(ctx, inv.TenantID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reinvite(ctx, inv.TenantID, "staff:ops", time.Hour); !errors.Is(err, ErrNotInvitable) {
		t.Errorf("re-inviting a tenant onboarded: %v, want ErrNotInvitable", err)
	}
	if _, err := f.svc.Reinvite(ctx, uuid.New(), "staff:ops", time.Hour); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("re-inviting an unknown tenant: %v", err)
	}
}

// One invitation is withdrawn by its id, audited once with its tenant.
func TestWithdrawingAnInvitationByItsIDStopsItsLink(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inv, tok := f.invitation()
	for range 2 {
		if err := f.svc.WithdrawInvite(ctx, inv.ID, "staff:ops"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Invitation(ctx, tok); !errors.Is(err, ErrLinkRevoked) {
		t.Errorf("a withdrawn link: %v", err)
	}
	var n int
	f.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'invite.revoked' AND actor = 'staff:ops'`,
		inv.TenantID).Scan(&n)
	if n != 1 {
		t.Errorf("%d withdrawals audited, want 1", n)
	}
	if err := f.svc.WithdrawInvite(ctx, uuid.New(), "staff:ops"); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("withdrawing an unknown invitation: %v", err)
	}
}

func TestAnInvitationLivesAPositiveDurationOfAtMostSevenDays(t *testing.T) {
	for ttl, ok := range map[time.Duration]bool{time.Minute: true, MaxInviteTTL: true, 0: false, -time.Hour: false, MaxInviteTTL + time.Second: false} {
		if err := CheckInviteTTL(ttl); (err == nil) != ok {
			t.Errorf("%s: %v", ttl, err)
		}
	}
}
