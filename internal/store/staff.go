package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PurposeStaffTOTP is the purpose of a staff account's sealed TOTP secret.
const PurposeStaffTOTP = "staff-totp-secret"

// Errors of the staff aggregate.
var (
	ErrStaffNotFound = errors.New("staff account not found")
	ErrStaffExists   = errors.New("a staff account with that e-mail address exists")
)

// Staff is a vendor staff account (the console's people). The password
// hash and the TOTP secret stay in the store's hands: PasswordHash is read
// only to be checked.
type Staff struct {
	ID            uuid.UUID
	Email         string
	Name          string
	Role          string // viewer, support, admin
	PasswordHash  string
	TOTP          bool  // a TOTP secret is enrolled
	TOTPLastStep  int64 // the step of the last code accepted
	FailedSignIns int
	LockedUntil   *time.Time
	LastSignInAt  *time.Time
	CreatedAt     time.Time
	CreatedBy     string
	DisabledAt    *time.Time
}

const staffColumns = `id, email, display_name, role, coalesce(password_hash, ''), totp_secret_id IS NOT NULL, totp_last_step,
	failed_signins, locked_until, last_signin_at, created_at, created_by, disabled_at`

func scanStaff(row pgx.Row) (Staff, error) {
	var s Staff
	err := row.Scan(&s.ID, &s.Email, &s.Name, &s.Role, &s.PasswordHash, &s.TOTP, &s.TOTPLastStep,
		&s.FailedSignIns, &s.LockedUntil, &s.LastSignInAt, &s.CreatedAt, &s.CreatedBy, &s.DisabledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrStaffNotFound
	}
	return s, err
}

// CreateStaff adds an account; the e-mail address is unique regardless of
// case (ErrStaffExists).
func (s *Store) CreateStaff(ctx context.Context, email, name, role, passwordHash, createdBy string) (Staff, error) {
	st, err := scanStaff(s.db.QueryRow(ctx, `INSERT INTO staff (email, display_name, role, password_hash, created_by)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+staffColumns, email, name, role, passwordHash, createdBy))
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
		return st, fmt.Errorf("create staff %s: %w", email, ErrStaffExists)
	}
	return st, wrap("create staff", err)
}

// StaffByEmail reads an account by e-mail address, any case.
func (s *Store) StaffByEmail(ctx context.Context, email string) (Staff, error) {
	st, err := scanStaff(s.db.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff WHERE lower(email) = lower($1)`, email))
	return st, wrap("staff by email", err)
}

// GetStaff reads an account.
func (s *Store) GetStaff(ctx context.Context, id uuid.UUID) (Staff, error) {
	st, err := scanStaff(s.db.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = $1`, id))
	return st, wrap("get staff", err)
}

// ListStaff is every account, by e-mail address; a handful, so no pages.
func (s *Store) ListStaff(ctx context.Context) ([]Staff, error) {
	rows, err := s.db.Query(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY lower(email)`)
	if err != nil {
		return nil, wrap("list staff", err)
	}
	defer rows.Close()
	var out []Staff
	for rows.Next() {
		st, err := scanStaff(rows)
		if err != nil {
			return nil, wrap("list staff", err)
		}
		out = append(out, st)
	}
	return out, wrap("list staff", rows.Err())
}

// DisableStaff marks an account disabled, keeping its row (the audit log
// names it); it reports whether the account was enabled until now.
func (s *Store) DisableStaff(ctx context.Context, id uuid.UUID) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE staff SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL`, id)
	if err != nil {
		return false, wrap("disable staff", err)
	}
	return tag.RowsAffected() == 1, nil
}

// StaffSignInFailed counts one more failed sign-in of the account; at
// limit consecutive failures it locks the account for lockFor and starts
// the count again. It reports whether this failure locked it. The count
// is one statement, so concurrent failures on several instances each
// count.
func (s *Store) StaffSignInFailed(ctx context.Context, id uuid.UUID, limit int, lockFor time.Duration) (locked bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE staff SET
			failed_signins = CASE WHEN failed_signins + 1 >= $2 THEN 0 ELSE failed_signins + 1 END,
			locked_until   = CASE WHEN failed_signins + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END
		WHERE id = $1 RETURNING failed_signins = 0`, id, limit, lockFor.Seconds()).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrStaffNotFound
	}
	return locked, wrap("staff sign-in failed", err)
}

// StaffSignedIn records a successful sign-in: the failure count starts
// again, and a TOTP code's step (0: none used) becomes the last accepted.
// A step at or below the last accepted one is refused (the code was
// used already), reported as false with nothing changed.
func (s *Store) StaffSignedIn(ctx context.Context, id uuid.UUID, totpStep int64) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE staff SET failed_signins = 0, locked_until = NULL, last_signin_at = now(),
			totp_last_step = CASE WHEN $2 > 0 THEN $2 ELSE totp_last_step END
		WHERE id = $1 AND ($2 = 0 OR $2 > totp_last_step)`, id, totpStep)
	if err != nil {
		return false, wrap("staff signed in", err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetStaffTOTP seals secret and enrolls it as the account's TOTP secret,
// with step as the last code accepted (the one that proved it), replacing
// any secret enrolled before.
func (s *Store) SetStaffTOTP(ctx context.Context, id uuid.UUID, secret []byte, step int64) error {
	return s.InTx(ctx, func(tx Tx) error {
		var old *uuid.UUID
		err := tx.db.QueryRow(ctx, `SELECT totp_secret_id FROM staff WHERE id = $1 FOR UPDATE`, id).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("set staff TOTP: %w", ErrStaffNotFound)
		}
		if err != nil {
			return wrap("set staff TOTP", err)
		}
		secretID, err := tx.PutSecret(ctx, nil, PurposeStaffTOTP, secret)
		if err != nil {
			return err
		}
		if _, err := tx.db.Exec(ctx, `UPDATE staff SET totp_secret_id = $2, totp_last_step = $3 WHERE id = $1`, id, secretID, step); err != nil {
			return wrap("set staff TOTP", err)
		}
		if old != nil {
			return tx.DeleteSecret(ctx, *old)
		}
		return nil
	})
}

// StaffTOTPSecret opens the account's TOTP secret; nil when none is
// enrolled.
func (s *Store) StaffTOTPSecret(ctx context.Context, id uuid.UUID) ([]byte, error) {
	var secretID *uuid.UUID
	err := s.db.QueryRow(ctx, `SELECT totp_secret_id FROM staff WHERE id = $1`, id).Scan(&secretID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("staff TOTP secret: %w", ErrStaffNotFound)
	}
	if err != nil || secretID == nil {
		return nil, wrap("staff TOTP secret", err)
	}
	return s.OpenSecret(ctx, nil, *secretID, PurposeStaffTOTP)
}

// LockEnabledAdmins locks the rows of the enabled admin accounts, in id
// order, and returns their ids. A change that could leave no admin (a
// demotion, a disabling) takes these locks first and decides on what it
// then reads: two such changes at once, each about the other admin, are
// decided one after the other, and the second sees the first's outcome
// (under READ COMMITTED a row locked after another transaction changed it
// is read again and left out when it is no longer an enabled admin).
func (t Tx) LockEnabledAdmins(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := t.db.Query(ctx, `SELECT id FROM staff WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE`)
	if err != nil {
		return nil, wrap("lock enabled admins", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return ids, wrap("lock enabled admins", err)
}

// SetStaffRole gives an account role.
func (s *Store) SetStaffRole(ctx context.Context, id uuid.UUID, role string) error {
	_, err := s.db.Exec(ctx, `UPDATE staff SET role = $2 WHERE id = $1`, id, role)
	return wrap("set staff role", err)
}

// EnableStaff lets a disabled account sign in again; it reports whether
// the account was disabled until now.
func (s *Store) EnableStaff(ctx context.Context, id uuid.UUID) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE staff SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL`, id)
	if err != nil {
		return false, wrap("enable staff", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UnlockStaff ends an account's lock and starts its count of failed
// sign-ins again.
func (s *Store) UnlockStaff(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.Exec(ctx, `UPDATE staff SET locked_until = NULL, failed_signins = 0 WHERE id = $1`, id)
	return wrap("unlock staff", err)
}

// SetStaffPassword replaces an account's password hash.
func (s *Store) SetStaffPassword(ctx context.Context, id uuid.UUID, passwordHash string) error {
	_, err := s.db.Exec(ctx, `UPDATE staff SET password_hash = $2 WHERE id = $1`, id, passwordHash)
	return wrap("set staff password", err)
}

// ResetStaffTOTP removes an account's TOTP secret, so that it signs in
// with its password alone until it enrolls again; it reports whether one
// was enrolled.
func (s *Store) ResetStaffTOTP(ctx context.Context, id uuid.UUID) (bool, error) {
	var enrolled bool
	err := s.InTx(ctx, func(tx Tx) error {
		var old *uuid.UUID
		err := tx.db.QueryRow(ctx, `SELECT totp_secret_id FROM staff WHERE id = $1 FOR UPDATE`, id).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("reset staff TOTP: %w", ErrStaffNotFound)
		}
		if err != nil || old == nil {
			return wrap("reset staff TOTP", err)
		}
		if _, err := tx.db.Exec(ctx, `UPDATE staff SET totp_secret_id = NULL WHERE id = $1`, id); err != nil {
			return wrap("reset staff TOTP", err)
		}
		enrolled = true
		return tx.DeleteSecret(ctx, *old)
	})
	return enrolled, err
}
