package onboarding

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// MaxInviteTTL caps how long an invitation link works: it is a credential
// until its first administrator signs in with it.
const MaxInviteTTL = 7 * 24 * time.Hour

// ErrOnboardingDone: the invitation's onboarding is complete, so the link
// opens nothing; the portal is the way in from now on.
var ErrOnboardingDone = &Problem{"Onboarding is complete.",
	"This invitation link no longer opens anything. Your administrators sign in to the Presence Bridge portal at /portal with their Microsoft account."}

// Invitation is an invitation link that may still be used.
type Invitation struct {
	ID       uuid.UUID
	TenantID uuid.UUID
}

// Invitation checks an invitation token: valid, not withdrawn, not
// expired, and its onboarding not complete.
func (s *Service) Invitation(ctx context.Context, token string) (Invitation, error) {
	var p invitePayload
	if _, err := s.links.Open(linkInvite, token, &p); err != nil {
		return Invitation{}, linkProblem(err)
	}
	inv, err := s.st.UseInvite(ctx, p.Invite)
	switch {
	case errors.Is(err, store.ErrTenantNotFound):
		return Invitation{}, ErrLinkInvalid
	case err != nil:
		return Invitation{}, err
	case inv.RevokedAt != nil:
		return Invitation{}, ErrLinkRevoked
	case !time.Now().Before(inv.ExpiresAt):
		return Invitation{}, ErrLinkExpired
	}
	o, err := s.st.GetOnboarding(ctx, inv.TenantID)
	if err != nil {
		return Invitation{}, err
	}
	if o.CompletedAt != nil {
		return Invitation{}, ErrOnboardingDone
	}
	return Invitation{ID: p.Invite, TenantID: inv.TenantID}, nil
}

// SignInRedirectURI is where an invitation's Microsoft sign-in returns; it
// must be registered, exactly, on the app registration.
func (s *Service) SignInRedirectURI() string { return s.cfg.BaseURL + "/onboarding/signin/callback" }

// SignIn starts the Microsoft sign-in that opening an invitation asks for;
// state must be single use and bound to the browser session.
func (s *Service) SignIn(state string) (identity.SignIn, error) {
	if s.cfg.App.ClientID == "" {
		return identity.SignIn{}, &Problem{"Onboarding is not configured.", "This deployment has no Microsoft app registration (PB_MS_CLIENT_ID); contact Presence Bridge support."}
	}
	return s.id.PersonSignIn(s.cfg.App, s.SignInRedirectURI(), state, identity.SignInOptions{Fresh: true}), nil
}

// SignInAgain starts the sign-in that makes a stale one fresh before a
// secret is revealed or a key created (identity.Reauthenticate): hint is
// the account that signed in with the invitation.
func (s *Service) SignInAgain(state, hint string) (identity.SignIn, error) {
	if s.cfg.App.ClientID == "" {
		return identity.SignIn{}, &Problem{"Onboarding is not configured.", "This deployment has no Microsoft app registration (PB_MS_CLIENT_ID); contact Presence Bridge support."}
	}
	return s.id.PersonSignIn(s.cfg.App, s.SignInRedirectURI(), state, identity.Reauthenticate(hint)), nil
}

// FinishSignIn redeems the sign-in's code and verifies who signed in.
func (s *Service) FinishSignIn(ctx context.Context, code string, si identity.SignIn) (identity.Identity, error) {
	who, err := s.id.FinishPersonSignIn(ctx, s.cfg.App, s.SignInRedirectURI(), code, si)
	if identity.ClassOf(err) == identity.Transient && err != nil {
		return who, &Problem{"Microsoft's sign-in service did not answer.", "Open your invitation link again in a minute."}
	}
	if err != nil {
		return who, &Problem{"Your sign-in could not be confirmed.", "Open your invitation link again and sign in. If it keeps happening, contact Presence Bridge support."}
	}
	return who, nil
}

// AdminRolesText names who may onboard, for messages.
const AdminRolesText = "a Global Administrator or Privileged Role Administrator"

// Accept lets who into the invitation's onboarding. The first
// administrator to sign in binds the invitation and becomes the tenant's
// first portal admin; afterwards only that account gets in with it. who
// must belong to the Microsoft tenant the tenant is connected to or
// declared, and that Microsoft tenant must not be connected to another of
// our tenants.
func (s *Service) Accept(ctx context.Context, inv Invitation, who identity.Identity) error {
	refuse := func(title, detail string) error {
		err := s.st.Audit(ctx, &inv.TenantID, "admin:"+who.Username, "invite.refused", map[string]any{"invite": inv.ID,
			"microsoftTenant": who.TenantID, "objectId": who.ObjectID, "reason": title})
		if err != nil {
			return err
		}
		return &Problem{title, detail}
	}
	t, err := s.st.GetTenant(ctx, inv.TenantID)
	if err != nil {
		return err
	}
	if !who.CanGrantConsent() {
		return refuse("Sign in as an administrator of your Microsoft 365 tenant.",
			fmt.Sprintf("%s signed in, but onboarding needs %s, who can grant Presence Bridge its permissions. Open the invitation link again and sign in with such an account.", who.Username, AdminRolesText))
	}
	if t.MSTenantID != nil && *t.MSTenantID != who.TenantID {
		return refuse("This invitation is for another Microsoft tenant.",
			fmt.Sprintf("%s is connected to %s; %s belongs to another tenant. Sign in with an administrator account of %s.", t.Name, t.MSDomain, who.Username, t.MSDomain))
	}
	if other, err := s.st.TenantByMicrosoftTenant(ctx, who.TenantID); err == nil && other.ID != t.ID {
		return refuse("Your Microsoft tenant is already connected to Presence Bridge.",
			"Another Presence Bridge account uses it, and a Microsoft tenant can be connected to only one. Sign in to the portal at /portal, or contact Presence Bridge support to move it.")
	} else if err != nil && !errors.Is(err, store.ErrTenantNotFound) {
		return err
	}
	if p, err := s.declaredMismatch(ctx, t, who); err != nil || p != nil {
		if p != nil {
			return refuse(p.Title, p.Detail)
		}
		return err
	}
	return s.tx(ctx, func(tx store.Tx) error {
		b, err := tx.BindInvite(ctx, inv.ID, store.InviteBinding{MSTenantID: who.TenantID, ObjectID: who.ObjectID, UPN: who.Username})
		if err != nil {
			return err
		}
		if b.ObjectID != who.ObjectID || b.MSTenantID != who.TenantID {
			return &Problem{"This invitation is already in use by someone else.",
				fmt.Sprintf("It was first used by %s, and only that account can open it. Ask them to continue, or ask Presence Bridge for a new invitation.", b.UPN)}
		}
		added, err := tx.AddPortalAdmin(ctx, store.PortalAdmin{TenantID: t.ID, ObjectID: who.ObjectID, MSTenantID: who.TenantID,
			UPN: who.Username, DisplayName: who.Name, AddedBy: "invitation"})
		if err != nil || !added {
			return err
		}
		return tx.Audit(ctx, &t.ID, "admin:"+who.Username, "portal_admin.added", map[string]any{"objectId": who.ObjectID,
			"microsoftTenant": who.TenantID, "upn": who.Username, "by": "invitation", "invite": inv.ID})
	})
}

// declaredMismatch compares the Microsoft tenant the form declared (a
// domain or an id) with the signer's.
func (s *Service) declaredMismatch(ctx context.Context, t store.Tenant, who identity.Identity) (*Problem, error) {
	declared := t.MSDomain
	if declared == "" {
		f, err := s.Form(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		declared = f.MicrosoftTenant
	}
	if declared == "" {
		return nil, nil
	}
	id, err := s.id.TenantIDOf(ctx, declared)
	switch {
	case errors.Is(err, identity.ErrUnknownTenant):
		return nil, nil // the form's own check names it when saved
	case err != nil:
		return &Problem{"Microsoft's sign-in service did not answer.", "Open your invitation link again in a minute."}, nil
	case id != who.TenantID:
		return &Problem{"You signed in to another Microsoft tenant than the form names.",
			fmt.Sprintf("The form names %s, but %s belongs to another tenant. Sign in with an administrator account of %s.", declared, who.Username, declared)}, nil
	}
	return nil, nil
}

// RevokeInvite withdraws an invitation, named by its link's token (or the
// whole link), or every invitation of a tenant, named by its id; it returns
// how many were withdrawn.
func (s *Service) RevokeInvite(ctx context.Context, tokenOrTenant, actor string) (int, error) {
	if id, err := uuid.Parse(tokenOrTenant); err == nil {
		if _, err := s.st.GetTenant(ctx, id); err != nil {
			return 0, err
		}
		n := 0
		err := s.tx(ctx, func(tx store.Tx) error {
			var err error
			if n, err = tx.RevokeTenantInvites(ctx, id); err != nil {
				return err
			}
			return tx.Audit(ctx, &id, actor, "invite.revoked", map[string]any{"invites": n})
		})
		return n, err
	}
	tok := tokenOrTenant[strings.LastIndex(tokenOrTenant, "/")+1:]
	var p invitePayload
	if _, err := s.links.Open(linkInvite, tok, &p); err != nil {
		return 0, linkProblem(err) // an expired link opens nothing already
	}
	inv, err := s.st.UseInvite(ctx, p.Invite)
	if err != nil {
		return 0, err
	}
	err = s.tx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeInvite(ctx, p.Invite); err != nil {
			return err
		}
		return tx.Audit(ctx, &inv.TenantID, actor, "invite.revoked", map[string]any{"invite": p.Invite})
	})
	return 1, err
}
