package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// What an admin changes about an account (the console's Staff page and
// `presencebridge staff`), each audited as by with the account's address.
// A change that would leave no enabled admin — the last one demoted or
// disabled — is refused, also when two admins each act on the other at
// the same moment (store.Tx.LockEnabledAdmins).

// Disable turns an account off, as by: it can no longer sign in, and a
// session it has ends at its next request. The row stays, for the audit
// log's sake.
func (s *Service) Disable(ctx context.Context, email, by string) (store.Staff, error) {
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, admins []uuid.UUID) (string, map[string]any, error) {
		if who.DisabledAt != nil {
			return "", nil, nil
		}
		if err := lastAdmin(who, admins, "disabled"); err != nil {
			return "", nil, err
		}
		_, err := tx.DisableStaff(ctx, who.ID)
		return "staff.disabled", nil, err
	})
}

// Enable lets a disabled account sign in again, as by.
func (s *Service) Enable(ctx context.Context, email, by string) (store.Staff, error) {
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, _ []uuid.UUID) (string, map[string]any, error) {
		changed, err := tx.EnableStaff(ctx, who.ID)
		if !changed {
			return "", nil, err
		}
		return "staff.enabled", nil, err
	})
}

// SetRole gives an account role, as by.
func (s *Service) SetRole(ctx context.Context, email string, role Role, by string) (store.Staff, error) {
	if ranks[role] == 0 {
		return store.Staff{}, &Refusal{fmt.Sprintf("unknown role %q (want viewer, support or admin)", role)}
	}
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, admins []uuid.UUID) (string, map[string]any, error) {
		if who.Role == string(role) {
			return "", nil, nil
		}
		if role != Admin {
			if err := lastAdmin(who, admins, "made "+string(role)); err != nil {
				return "", nil, err
			}
		}
		return "staff.role_changed", map[string]any{"from": who.Role, "to": string(role)}, tx.SetStaffRole(ctx, who.ID, string(role))
	})
}

// Unlock ends an account's lock after failed sign-ins, as by, so that it
// may sign in at once.
func (s *Service) Unlock(ctx context.Context, email, by string) (store.Staff, error) {
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, _ []uuid.UUID) (string, map[string]any, error) {
		if who.FailedSignIns == 0 && (who.LockedUntil == nil || !who.LockedUntil.After(s.opts.Now())) {
			return "", nil, nil
		}
		return "staff.unlocked", nil, tx.UnlockStaff(ctx, who.ID)
	})
}

// ResetTOTP removes an account's authenticator app (TOTP), as by, for a
// person who lost their phone: they sign in with their password alone
// and may set up a new app on their Account page.
func (s *Service) ResetTOTP(ctx context.Context, email, by string) (store.Staff, error) {
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, _ []uuid.UUID) (string, map[string]any, error) {
		enrolled, err := tx.ResetStaffTOTP(ctx, who.ID)
		if !enrolled {
			return "", nil, err
		}
		return "staff.totp_reset", nil, err
	})
}

// SetPassword gives an account a new password (checked for length), as by.
func (s *Service) SetPassword(ctx context.Context, email, password, by string) (store.Staff, error) {
	hash, err := hashPassword(password)
	if err != nil {
		return store.Staff{}, err
	}
	return s.change(ctx, email, by, func(tx store.Tx, who store.Staff, _ []uuid.UUID) (string, map[string]any, error) {
		return "staff.password_set", nil, tx.SetStaffPassword(ctx, who.ID, hash)
	})
}

// hashPassword checks a chosen password's length and hashes it.
func hashPassword(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLength {
		return "", &Refusal{fmt.Sprintf("the password must have at least %d characters", MinPasswordLength)}
	}
	hash, err := argon2id.CreateHash(password, hashParams)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// change runs fn on the account with address email in one transaction,
// after locking the enabled admins (admins, their ids), and audits the
// action fn names with its detail and the account's address; fn names
// none when nothing changed. It returns the account as it is after.
func (s *Service) change(ctx context.Context, email, by string,
	fn func(tx store.Tx, who store.Staff, admins []uuid.UUID) (action string, detail map[string]any, err error)) (store.Staff, error) {
	var who store.Staff
	if !store.Storable(email) {
		return who, &Refusal{"the address: " + store.NotText}
	}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		admins, err := tx.LockEnabledAdmins(ctx)
		if err != nil {
			return err
		}
		if who, err = tx.StaffByEmail(ctx, email); err != nil {
			return err
		}
		action, detail, err := fn(tx, who, admins)
		if err != nil || action == "" {
			return err
		}
		if detail == nil {
			detail = map[string]any{}
		}
		detail["email"] = who.Email
		if err := tx.Audit(ctx, nil, by, action, detail); err != nil {
			return err
		}
		who, err = tx.GetStaff(ctx, who.ID)
		return err
	})
	if errors.Is(err, store.ErrStaffNotFound) {
		return who, &Refusal{"there is no staff account for " + email}
	}
	return who, err
}

// lastAdmin refuses to leave no enabled admin: who, an enabled admin,
// about to be what, when admins (the enabled admins, locked) holds no
// other.
func lastAdmin(who store.Staff, admins []uuid.UUID, what string) error {
	if who.Role != string(Admin) || who.DisabledAt != nil ||
		slices.ContainsFunc(admins, func(id uuid.UUID) bool { return id != who.ID }) {
		return nil
	}
	return &Refusal{who.Email + " is the only admin left, so it cannot be " + what +
		": make another account admin first, then try again."}
}
