package staff

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP follows RFC 6238 as authenticator apps do by default: SHA-1, six
// digits, 30-second steps; a code of the step before or after is accepted
// too, for clocks a little apart.
const (
	totpPeriod = 30
	totpIssuer = "Presence Bridge"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrollment is a TOTP secret offered to an account, not yet proved.
type Enrollment struct {
	Secret string // base32, for typing into an app
	URL    string // otpauth://totp/…, for a QR code or a link
}

// NewEnrollment makes a fresh secret (160 bits, RFC 4226's recommended
// length) for the account with address email. Nothing is stored until
// Enroll proves it with a code.
func NewEnrollment(email string) (Enrollment, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return Enrollment{}, fmt.Errorf("new TOTP secret: %w", err)
	}
	return EnrollmentOf(email, base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// EnrollmentOf is the enrollment of secret for the account with address
// email: its otpauth URL in Google Authenticator's Key Uri Format, which
// every authenticator app reads.
func EnrollmentOf(email, secret string) (Enrollment, error) {
	if _, err := totp.GenerateCodeCustom(secret, time.Now(), totpOpts); err != nil {
		return Enrollment{}, fmt.Errorf("TOTP secret: %w", err)
	}
	label := url.PathEscape(totpIssuer + ":" + email)
	q := url.Values{"secret": {secret}, "issuer": {totpIssuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return Enrollment{Secret: secret, URL: "otpauth://totp/" + label + "?" + q.Encode()}, nil
}

// Enroll stores secret as the account's TOTP secret (sealed) once code
// shows that the person's app has it; a wrong code is a *Refusal. From then
// on the account signs in with a code after its password. Audited
// staff.totp_enrolled.
func (s *Service) Enroll(ctx context.Context, id uuid.UUID, secret, code string) error {
	who, err := s.Current(ctx, id)
	if err != nil {
		return err
	}
	step, ok := matchCode(secret, code, s.opts.Now())
	if !ok {
		return &Refusal{"That code does not match. Check that your app shows the account you just added, and enter its current code."}
	}
	if err := s.st.SetStaffTOTP(ctx, id, []byte(secret), int64(step)); err != nil {
		return err
	}
	return s.st.Audit(ctx, nil, Actor(who.Email), "staff.totp_enrolled", nil)
}

// matchCode reports whether code is secret's code at now or one step
// either side, and which step it matched (steps count periods since
// 1970, so a later code has a larger step).
func matchCode(secret, code string, now time.Time) (step int, ok bool) {
	if len(code) != 6 {
		return 0, false
	}
	for _, skew := range []int{-1, 0, 1} {
		at := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return int(at.Unix() / totpPeriod), true
		}
	}
	return 0, false
}
