package staff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// ErrNotAccepted is every refused sign-in: an unknown address, a wrong
// password or code, a disabled or locked account. The person sees one
// sentence whatever the reason, so the form tells nobody which addresses
// have accounts or which are locked; the audit log has the reason.
var ErrNotAccepted = errors.New("sign-in not accepted")

// Attempt is a password that was right.
type Attempt struct {
	Staff store.Staff
	// NeedsCode: the account has TOTP enrolled and is not signed in until
	// CheckCode accepts a code.
	NeedsCode bool
}

// CheckPassword checks an account's password; ip is recorded with the
// outcome. Without TOTP a right password signs the account in (audited
// staff.signed_in); with it, a code must follow. A locked or disabled
// account is refused whatever the password, and an unknown address costs
// a hash like a known one, so the time taken does not tell them apart.
func (s *Service) CheckPassword(ctx context.Context, email, password, ip string) (Attempt, error) {
	who, err := store.Staff{}, store.ErrStaffNotFound // no account has an address the database cannot hold
	if store.Storable(email) {
		who, err = s.st.StaffByEmail(ctx, email)
	}
	if errors.Is(err, store.ErrStaffNotFound) || err == nil && who.PasswordHash == "" {
		argon2id.ComparePasswordAndHash(password, s.dummyHash())
		return Attempt{}, ErrNotAccepted
	}
	if err != nil {
		return Attempt{}, err
	}
	match, err := argon2id.ComparePasswordAndHash(password, who.PasswordHash)
	if err != nil {
		return Attempt{}, fmt.Errorf("check password of %s: %w", who.ID, err)
	}
	if err := s.refuse(ctx, who, match, "password", ip); err != nil {
		return Attempt{}, err
	}
	if who.TOTP {
		return Attempt{Staff: who, NeedsCode: true}, nil
	}
	return Attempt{Staff: who}, s.signedIn(ctx, who, 0, map[string]any{"ip": ip, "totp": false})
}

// CheckMicrosoft signs in the account whose address is username, the
// preferred_username (UPN) of an ID token of the vendor's own Microsoft
// tenant that the caller verified (single sign-on): the account must
// exist and may sign in (not disabled, not locked), as with a password;
// single sign-on makes no account. The console's authenticator code is
// not asked: the vendor's tenant decides the second factor of its own
// sign-ins. Audited staff.signed_in with via "microsoft".
func (s *Service) CheckMicrosoft(ctx context.Context, username, ip string) (store.Staff, error) {
	who, err := s.st.StaffByEmail(ctx, username)
	if errors.Is(err, store.ErrStaffNotFound) {
		return who, ErrNotAccepted
	}
	if err != nil {
		return who, err
	}
	if err := s.refuse(ctx, who, true, "microsoft", ip); err != nil {
		return who, err
	}
	return who, s.signedIn(ctx, who, 0, map[string]any{"ip": ip, "via": "microsoft"})
}

// CheckCode finishes the sign-in of an account whose password was right
// (Attempt.NeedsCode) with a TOTP code. A wrong code counts towards the
// lock as a wrong password does; a code already used is wrong.
func (s *Service) CheckCode(ctx context.Context, id uuid.UUID, code, ip string) (store.Staff, error) {
	who, err := s.st.GetStaff(ctx, id)
	if errors.Is(err, store.ErrStaffNotFound) {
		return who, ErrNotAccepted
	}
	if err != nil {
		return who, err
	}
	secret, err := s.st.StaffTOTPSecret(ctx, id)
	if err != nil {
		return who, err
	}
	step, match := 0, false
	if secret != nil {
		step, match = matchCode(string(secret), code, s.opts.Now())
		match = match && int64(step) > who.TOTPLastStep
	}
	if err := s.refuse(ctx, who, match, "code", ip); err != nil {
		return who, err
	}
	return who, s.signedIn(ctx, who, int64(step), map[string]any{"ip": ip, "totp": true})
}

// refuse decides a checked credential: ErrNotAccepted when it did not
// match or the account may not sign in (disabled, locked), nil when it
// may go on. A mismatch of an account that is neither counts towards the
// lock — not while locked, so a lock lasts LockFor and no longer however
// many guesses arrive meanwhile; every refusal is audited with its reason.
func (s *Service) refuse(ctx context.Context, who store.Staff, match bool, what, ip string) error {
	reason := ""
	switch {
	case who.DisabledAt != nil:
		reason = "disabled"
	case who.LockedUntil != nil && who.LockedUntil.After(time.Now()):
		reason = "locked"
	case !match:
		reason = "wrong " + what
	default:
		return nil
	}
	detail := map[string]any{"reason": reason, "ip": ip}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if reason == "wrong "+what {
			locked, err := tx.StaffSignInFailed(ctx, who.ID, s.opts.MaxFailures, s.opts.LockFor)
			if err != nil {
				return err
			}
			if locked {
				if err := tx.Audit(ctx, nil, Actor(who.Email), "staff.locked", map[string]any{"for": s.opts.LockFor.String(), "ip": ip}); err != nil {
					return err
				}
			}
		}
		return tx.Audit(ctx, nil, Actor(who.Email), "staff.sign_in_refused", detail)
	})
	if err != nil {
		return err
	}
	return ErrNotAccepted
}

// signedIn records a sign-in, audited with detail.
func (s *Service) signedIn(ctx context.Context, who store.Staff, step int64, detail map[string]any) error {
	return s.st.InTx(ctx, func(tx store.Tx) error {
		ok, err := tx.StaffSignedIn(ctx, who.ID, step)
		if err != nil {
			return err
		}
		if !ok { // another request used the same code meanwhile
			return ErrNotAccepted
		}
		return tx.Audit(ctx, nil, Actor(who.Email), "staff.signed_in", detail)
	})
}

// SignedOut records a sign-out.
func (s *Service) SignedOut(ctx context.Context, who store.Staff) error {
	return s.st.Audit(ctx, nil, Actor(who.Email), "staff.signed_out", nil)
}

// dummyHash is a hash of a random password, made once: checking a password
// against it costs what checking a real account's does.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = argon2id.CreateHash(GeneratePassword(), hashParams)
	})
	return s.dummy
}
