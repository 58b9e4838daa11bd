package staff_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
)

const boss = "staff:boss@vendor.example"

// refused fails the test unless err is a refusal saying want.
func refused(t *testing.T, what string, err error, want string) {
	t.Helper()
	r, ok := errors.AsType[*staff.Refusal](err)
	if !ok || !strings.Contains(r.Reason, want) {
		t.Errorf("%s: %v, want a refusal saying %q", what, err, want)
	}
}

func TestAnAdminChangesAnAccountsRoleStateLockTOTPAndPasswordEachAudited(t *testing.T) {
	now := time.Now()
	svc, st := newService(t, staff.Options{Now: func() time.Time { return now }})
	add(t, svc, "boss@vendor.example", staff.Admin)
	who := add(t, svc, "ops@vendor.example", staff.Support)
	ctx := t.Context()

	if got, err := svc.SetRole(ctx, "OPS@vendor.example", staff.Viewer, boss); err != nil || got.Role != "viewer" {
		t.Fatalf("make viewer: %+v, %v", got, err)
	}
	if _, err := svc.SetRole(ctx, who.Email, staff.Viewer, boss); err != nil {
		t.Fatalf("the same role again: %v", err)
	}
	if got, err := svc.Disable(ctx, who.Email, boss); err != nil || got.DisabledAt == nil {
		t.Fatalf("disable: %+v, %v", got, err)
	}
	if _, err := svc.CheckPassword(ctx, who.Email, password, "192.0.2.1"); err != staff.ErrNotAccepted {
		t.Errorf("a disabled account's password: %v", err)
	}
	if got, err := svc.Enable(ctx, who.Email, boss); err != nil || got.DisabledAt != nil {
		t.Fatalf("enable: %+v, %v", got, err)
	}
	for range staff.MaxFailures {
		svc.CheckPassword(ctx, who.Email, "not the password at all", "192.0.2.1")
	}
	if _, err := svc.CheckPassword(ctx, who.Email, password, "192.0.2.1"); err != staff.ErrNotAccepted {
		t.Fatalf("a locked account's password: %v", err)
	}
	if got, err := svc.Unlock(ctx, who.Email, boss); err != nil || got.LockedUntil != nil || got.FailedSignIns != 0 {
		t.Fatalf("unlock: %+v, %v", got, err)
	}
	if _, err := svc.CheckPassword(ctx, who.Email, password, "192.0.2.1"); err != nil {
		t.Fatalf("the password once unlocked: %v", err)
	}

	e, _ := staff.NewEnrollment(who.Email)
	code, _ := totp.GenerateCode(e.Secret, now)
	if err := svc.Enroll(ctx, who.ID, e.Secret, code); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.ResetTOTP(ctx, who.Email, boss); err != nil || got.TOTP {
		t.Fatalf("reset TOTP: %+v, %v", got, err)
	}
	if a, err := svc.CheckPassword(ctx, who.Email, password, "192.0.2.1"); err != nil || a.NeedsCode {
		t.Errorf("the password after the TOTP reset: %+v, %v; want signed in without a code", a, err)
	}
	var secrets int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM secrets WHERE purpose = $1`, store.PurposeStaffTOTP).Scan(&secrets); err != nil || secrets != 0 {
		t.Errorf("%d TOTP secrets left after the reset (%v), want 0", secrets, err)
	}

	refused(t, "a short password", func() error { _, err := svc.SetPassword(ctx, who.Email, "short", boss); return err }(), "at least 12")
	if _, err := svc.SetPassword(ctx, who.Email, "a brand new password of mine", boss); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckPassword(ctx, who.Email, "a brand new password of mine", "192.0.2.1"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	refused(t, "an unknown address", func() error { _, err := svc.Unlock(ctx, "nobody@vendor.example", boss); return err }(), "no staff account")
	refused(t, "an unknown role", func() error { _, err := svc.SetRole(ctx, who.Email, "root", boss); return err }(), "unknown role")

	for action, want := range map[string]int{"staff.role_changed": 1, "staff.disabled": 1, "staff.enabled": 1, "staff.unlocked": 1,
		"staff.totp_reset": 1, "staff.password_set": 1} {
		if n := auditCount(t, st, boss, action); n != want {
			t.Errorf("%d %s entries by the admin, want %d", n, action, want)
		}
	}
	var detail string
	if err := st.Pool().QueryRow(ctx, `SELECT detail::text FROM audit_log WHERE action = 'staff.role_changed'`).Scan(&detail); err != nil ||
		detail != `{"to": "viewer", "from": "support", "email": "ops@vendor.example"}` {
		t.Errorf("role change audited with %s (%v)", detail, err)
	}
}

func TestTheLastAdminCannotBeDemotedOrDisabledInWords(t *testing.T) {
	svc, _ := newService(t, staff.Options{})
	ctx := t.Context()
	only := add(t, svc, "boss@vendor.example", staff.Admin)
	other := add(t, svc, "second@vendor.example", staff.Admin)
	if _, err := svc.Disable(ctx, other.Email, boss); err != nil {
		t.Fatal(err)
	}
	refused(t, "demote the only enabled admin", func() error { _, err := svc.SetRole(ctx, only.Email, staff.Support, boss); return err }(),
		"boss@vendor.example is the only admin left, so it cannot be made support: make another account admin first")
	refused(t, "disable the only enabled admin", func() error { _, err := svc.Disable(ctx, only.Email, boss); return err }(),
		"the only admin left, so it cannot be disabled")
	if _, err := svc.SetRole(ctx, other.Email, staff.Viewer, boss); err != nil {
		t.Errorf("demoting a disabled admin: %v", err)
	}
	if _, err := svc.Enable(ctx, other.Email, boss); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetRole(ctx, other.Email, staff.Admin, boss); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetRole(ctx, only.Email, staff.Support, boss); err != nil {
		t.Errorf("demoting an admin beside another: %v", err)
	}
}

// Two admins, each demoting or disabling the other at the same moment:
// one change wins, the other is refused, and an admin is left. Without the
// lock both transactions see the other admin and both commit.
func TestTwoAdminsActingOnEachOtherAtOnceLeaveOneAdmin(t *testing.T) {
	svc, st := newService(t, staff.Options{})
	ctx := t.Context()
	a := add(t, svc, "a@vendor.example", staff.Admin)
	b := add(t, svc, "b@vendor.example", staff.Admin)
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, target := range []string{a.Email, b.Email} {
			wg.Go(func() {
				if round%2 == 0 {
					_, errs[i] = svc.SetRole(ctx, target, staff.Viewer, boss)
				} else {
					_, errs[i] = svc.Disable(ctx, target, boss)
				}
			})
		}
		wg.Wait()
		var admins int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM staff WHERE role = 'admin' AND disabled_at IS NULL`).Scan(&admins); err != nil {
			t.Fatal(err)
		}
		var refusals int
		for _, err := range errs {
			if _, ok := errors.AsType[*staff.Refusal](err); ok {
				refusals++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if admins != 1 || refusals != 1 {
			t.Fatalf("round %d: %d enabled admins and %d refusals (%v), want 1 and 1", round, admins, refusals, errs)
		}
		for _, who := range []string{a.Email, b.Email} { // both admins again for the next round
			if _, err := svc.Enable(ctx, who, boss); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SetRole(ctx, who, staff.Admin, boss); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSingleSignOnSignsInAnEnabledUnlockedAccountAndNoOther(t *testing.T) {
	svc, st := newService(t, staff.Options{})
	ctx := t.Context()
	ops := add(t, svc, "ops@vendor.example", staff.Support)
	gone := add(t, svc, "gone@vendor.example", staff.Support)
	locked := add(t, svc, "locked@vendor.example", staff.Support)
	if _, err := svc.Disable(ctx, gone.Email, boss); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE staff SET locked_until = now() + interval '10 minutes' WHERE id = $1`, locked.ID); err != nil {
		t.Fatal(err)
	}
	if who, err := svc.CheckMicrosoft(ctx, "OPS@vendor.example", "192.0.2.1"); err != nil || who.ID != ops.ID {
		t.Fatalf("single sign-on of ops: %+v, %v", who, err)
	}
	for _, name := range []string{"nobody@vendor.example", gone.Email, locked.Email} {
		if _, err := svc.CheckMicrosoft(ctx, name, "192.0.2.1"); err != staff.ErrNotAccepted {
			t.Errorf("single sign-on of %s: %v, want exactly ErrNotAccepted", name, err)
		}
	}
	var via string
	if err := st.Pool().QueryRow(ctx, `SELECT detail->>'via' FROM audit_log WHERE actor = 'staff:ops@vendor.example' AND action = 'staff.signed_in'`).Scan(&via); err != nil || via != "microsoft" {
		t.Errorf("the sign-in is audited via %q (%v), want microsoft", via, err)
	}
	if n := auditCount(t, st, "staff:locked@vendor.example", "staff.sign_in_refused"); n != 1 {
		t.Errorf("the locked account's refusal audited %d times, want 1", n)
	}
}
