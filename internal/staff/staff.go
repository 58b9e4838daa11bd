// Package staff keeps the vendor's staff accounts, who sign in to the
// support console: their roles, their passwords (argon2id), their optional
// TOTP second factor, and the rules of signing in — an account locks after
// repeated failures, and a refusal never says which part was wrong, so the
// sign-in form cannot tell anyone which addresses have accounts. Every
// change and every sign-in lands in the audit log as "staff:<email>".
package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Role is what an account may do in the console.
type Role string

// The roles, each allowing what the one before does and more.
const (
	// Viewer looks at every tenant and changes nothing.
	Viewer Role = "viewer"
	// Support also acts on tenants (the tenant pages' actions).
	Support Role = "support"
	// Admin may do everything, staff accounts included.
	Admin Role = "admin"
)

var ranks = map[Role]int{Viewer: 1, Support: 2, Admin: 3}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if ranks[r] == 0 {
		return "", fmt.Errorf("unknown role %q (want viewer, support or admin)", s)
	}
	return r, nil
}

// AtLeast reports whether r allows what min does. An unknown role allows
// nothing.
func (r Role) AtLeast(min Role) bool { return ranks[r] > 0 && ranks[r] >= ranks[min] }

// Actor names an account in the audit log.
func Actor(email string) string { return "staff:" + strings.ToLower(email) }

// Defaults of Options.
const (
	// MaxFailures consecutive failed sign-ins (a wrong password or code)
	// lock an account for LockFor.
	MaxFailures = 5
	LockFor     = 15 * time.Minute
	// MinPasswordLength is what a chosen password must have at least; a
	// generated one has 26 characters of base32 (130 bits).
	MinPasswordLength = 12
)

// hashParams are argon2id's: 64 MiB, one pass, two lanes — above OWASP's
// Password Storage Cheat Sheet minimum (46 MiB, t=1, p=1). Lanes are fixed,
// not the machine's cores, so a hash costs the same on every instance.
var hashParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Options tune a Service; zero values take the defaults.
type Options struct {
	MaxFailures int
	LockFor     time.Duration
	Now         func() time.Time // replaces time.Now (TOTP codes in tests)
}

// Service is the staff accounts over a store.
type Service struct {
	st   *store.Store
	opts Options

	dummyOnce sync.Once
	dummy     string // a hash no password matches, checked for unknown accounts
}

// New returns the service.
func New(st *store.Store, o Options) *Service {
	if o.MaxFailures <= 0 {
		o.MaxFailures = MaxFailures
	}
	if o.LockFor <= 0 {
		o.LockFor = LockFor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{st: st, opts: o}
}

// Refusal is a mistake in what was asked, in words for the person.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// GeneratePassword returns a new random password (130 bits).
func GeneratePassword() string { return rand.Text() }

// Add creates an account with password (checked for length), as by.
func (s *Service) Add(ctx context.Context, email, name string, role Role, password, by string) (store.Staff, error) {
	email = strings.TrimSpace(email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return store.Staff{}, &Refusal{fmt.Sprintf("%q is not an e-mail address such as ops@vendor.example", email)}
	}
	if ranks[role] == 0 {
		return store.Staff{}, &Refusal{fmt.Sprintf("unknown role %q (want viewer, support or admin)", role)}
	}
	if !store.Storable(name) {
		return store.Staff{}, &Refusal{"the name: " + store.NotText}
	}
	hash, err := hashPassword(password)
	if err != nil {
		return store.Staff{}, err
	}
	var added store.Staff
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		if added, err = tx.CreateStaff(ctx, email, strings.TrimSpace(name), string(role), hash, by); err != nil {
			return err
		}
		return tx.Audit(ctx, nil, by, "staff.added", map[string]any{"email": added.Email, "role": added.Role})
	})
	if errors.Is(err, store.ErrStaffExists) {
		return store.Staff{}, &Refusal{"there is already a staff account for " + email}
	}
	return added, err
}

// List is every account.
func (s *Service) List(ctx context.Context) ([]store.Staff, error) { return s.st.ListStaff(ctx) }

// ErrGone: the account was disabled or removed since its session began.
var ErrGone = errors.New("the staff account is disabled")

// Current reads a signed-in account afresh: a disabled one is ErrGone, and
// a role changed since sign-in applies at once.
func (s *Service) Current(ctx context.Context, id uuid.UUID) (store.Staff, error) {
	who, err := s.st.GetStaff(ctx, id)
	if errors.Is(err, store.ErrStaffNotFound) || err == nil && who.DisabledAt != nil {
		return who, ErrGone
	}
	return who, err
}

// State says in words whether an account may sign in: "active",
// "disabled", or "locked until <time, UTC>".
func State(s store.Staff, now time.Time) string {
	switch {
	case s.DisabledAt != nil:
		return "disabled"
	case s.LockedUntil != nil && s.LockedUntil.After(now):
		return "locked until " + s.LockedUntil.UTC().Format(time.RFC3339)
	}
	return "active"
}
