package staff_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const password = "correct horse battery staple"

func newService(t *testing.T, o staff.Options) (*staff.Service, *store.Store) {
	t.Helper()
	st, _ := storetest.New(t)
	return staff.New(st, o), st
}

func add(t *testing.T, svc *staff.Service, email string, role staff.Role) store.Staff {
	t.Helper()
	who, err := svc.Add(t.Context(), email, "Someone", role, password, "staff:boss@vendor.example")
	if err != nil {
		t.Fatal(err)
	}
	return who
}

// auditCount counts the audit entries of action by actor.
func auditCount(t *testing.T, st *store.Store, actor, action string) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE actor = $1 AND action = $2`, actor, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAddedAccountsPasswordIsStoredAsAnArgon2idHashAndSignsIn(t *testing.T) {
	svc, st := newService(t, staff.Options{})
	who := add(t, svc, "Ops@Vendor.example", staff.Support)
	if len(who.PasswordHash) < 20 || who.PasswordHash[:10] != "$argon2id$" {
		t.Fatalf("stored hash %q, want an argon2id PHC string", who.PasswordHash)
	}
	a, err := svc.CheckPassword(t.Context(), "ops@vendor.example", password, "192.0.2.1")
	if err != nil || a.NeedsCode || a.Staff.ID != who.ID {
		t.Fatalf("sign-in with the right password, address in another case: %+v, %v", a, err)
	}
	if n := auditCount(t, st, "staff:ops@vendor.example", "staff.signed_in"); n != 1 {
		t.Errorf("%d staff.signed_in entries, want 1", n)
	}
	if n := auditCount(t, st, "staff:boss@vendor.example", "staff.added"); n != 1 {
		t.Errorf("%d staff.added entries by the adder, want 1", n)
	}
	if _, err := svc.Add(t.Context(), "ops@vendor.example", "", staff.Viewer, password, "cli"); !errors.As(err, new(*staff.Refusal)) {
		t.Errorf("a second account for the same address: %v, want a refusal", err)
	}
	if _, err := svc.Add(t.Context(), "short@vendor.example", "", staff.Viewer, "tooshort", "cli"); !errors.As(err, new(*staff.Refusal)) {
		t.Errorf("an 8-character password: %v, want a refusal", err)
	}
}

func TestEveryRefusalIsTheSameErrorWhateverItsReason(t *testing.T) {
	svc, st := newService(t, staff.Options{})
	add(t, svc, "ops@vendor.example", staff.Support)
	gone := add(t, svc, "gone@vendor.example", staff.Support)
	if _, err := svc.Disable(t.Context(), gone.Email, "cli"); err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string][2]string{
		"unknown address":            {"nobody@vendor.example", password},
		"wrong password":             {"ops@vendor.example", "not the password at all"},
		"disabled account":           {"gone@vendor.example", password},
		"empty password":             {"ops@vendor.example", ""},
		"password of another's case": {"OPS@vendor.example", "CORRECT HORSE BATTERY STAPLE"},
	} {
		if _, err := svc.CheckPassword(t.Context(), try[0], try[1], "192.0.2.1"); err != staff.ErrNotAccepted {
			t.Errorf("%s: %v, want exactly ErrNotAccepted", name, err)
		}
	}
	if n := auditCount(t, st, "staff:gone@vendor.example", "staff.sign_in_refused"); n != 1 {
		t.Errorf("the disabled account's attempt audited %d times, want 1", n)
	}
}

func TestAnAccountLocksAfterFiveFailuresAndRefusesEvenTheRightPasswordUntilTheLockEnds(t *testing.T) {
	svc, st := newService(t, staff.Options{})
	who := add(t, svc, "ops@vendor.example", staff.Support)
	for i := range staff.MaxFailures {
		if _, err := svc.CheckPassword(t.Context(), who.Email, "wrong password number", "192.0.2.1"); err != staff.ErrNotAccepted {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, err := svc.CheckPassword(t.Context(), who.Email, password, "192.0.2.1"); err != staff.ErrNotAccepted {
		t.Fatalf("the right password on a locked account: %v, want ErrNotAccepted", err)
	}
	locked, err := st.GetStaff(t.Context(), who.ID)
	if err != nil {
		t.Fatal(err)
	}
	if locked.LockedUntil == nil || time.Until(*locked.LockedUntil) < 14*time.Minute {
		t.Fatalf("locked until %v, want about 15 minutes from now", locked.LockedUntil)
	}
	if n := auditCount(t, st, "staff:ops@vendor.example", "staff.locked"); n != 1 {
		t.Errorf("%d staff.locked entries, want 1", n)
	}
	// The lock ends (moved into the past here, as 15 minutes would).
	if _, err := st.Pool().Exec(t.Context(), `UPDATE staff SET locked_until = now() - interval '1 second' WHERE id = $1`, who.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckPassword(t.Context(), who.Email, password, "192.0.2.1"); err != nil {
		t.Fatalf("the right password after the lock ended: %v", err)
	}
}

func TestATOTPAccountNeedsACodeAfterItsPasswordAndEachCodeIsGoodOnce(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	svc, st := newService(t, staff.Options{Now: func() time.Time { return now }})
	who := add(t, svc, "ops@vendor.example", staff.Admin)
	e, err := staff.NewEnrollment(who.Email)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Enroll(t.Context(), who.ID, e.Secret, "000000"); !errors.As(err, new(*staff.Refusal)) {
		t.Fatalf("enrolling with a wrong code: %v, want a refusal", err)
	}
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(e.Secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := svc.Enroll(t.Context(), who.ID, e.Secret, code(now)); err != nil {
		t.Fatal(err)
	}
	a, err := svc.CheckPassword(t.Context(), who.Email, password, "192.0.2.1")
	if err != nil || !a.NeedsCode {
		t.Fatalf("password of a TOTP account: %+v, %v; want NeedsCode", a, err)
	}
	if _, err := svc.CheckCode(t.Context(), who.ID, code(now), "192.0.2.1"); err != staff.ErrNotAccepted {
		t.Errorf("the code used to enroll, used again: %v, want ErrNotAccepted", err)
	}
	now = now.Add(30 * time.Second)
	if _, err := svc.CheckCode(t.Context(), who.ID, code(now), "192.0.2.1"); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
	if _, err := svc.CheckCode(t.Context(), who.ID, code(now), "192.0.2.1"); err != staff.ErrNotAccepted {
		t.Errorf("a code used to sign in, used again: %v, want ErrNotAccepted", err)
	}
	var sealed []byte
	if err := st.Pool().QueryRow(t.Context(), `SELECT s.ciphertext FROM staff JOIN secrets s ON s.id = staff.totp_secret_id`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if string(sealed) == e.Secret {
		t.Error("the TOTP secret is stored in clear")
	}
}

// RFC 6238 appendix B's first vector, SHA-1, truncated to six digits as
// authenticator apps show it: the secret "12345678901234567890" at T=59
// gives 94287082.
func TestTOTPCodesFollowRFC6238(t *testing.T) {
	now := time.Unix(59, 0)
	svc, _ := newService(t, staff.Options{Now: func() time.Time { return now }})
	who := add(t, svc, "ops@vendor.example", staff.Admin)
	const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32("12345678901234567890")
	if err := svc.Enroll(t.Context(), who.ID, rfcSecret, "287082"); err != nil {
		t.Fatalf("RFC 6238's code at T=59: %v", err)
	}
}

func TestRolesAllowWhatTheLowerOnesDo(t *testing.T) {
	cases := []struct {
		r, min staff.Role
		want   bool
	}{
		{staff.Viewer, staff.Viewer, true}, {staff.Viewer, staff.Support, false}, {staff.Viewer, staff.Admin, false},
		{staff.Support, staff.Viewer, true}, {staff.Support, staff.Support, true}, {staff.Support, staff.Admin, false},
		{staff.Admin, staff.Viewer, true}, {staff.Admin, staff.Support, true}, {staff.Admin, staff.Admin, true},
		{"", staff.Viewer, false}, {"root", staff.Viewer, false},
	}
	for _, c := range cases {
		if got := c.r.AtLeast(c.min); got != c.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", c.r, c.min, got, c.want)
		}
	}
	if _, err := staff.ParseRole("superuser"); err == nil {
		t.Error("ParseRole accepted superuser")
	}
}
