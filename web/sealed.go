package web

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"presencebridge/internal/seal"
)

// A secret shown once after a redirect — a new API key, a signing secret
// revealed or rotated, a monitor's Copy URL — crosses the redirect in the
// session, whose data is a row of the sessions table. There it is sealed
// with the deployment's keys, as refresh tokens and signing secrets are in
// their tables: a copy of the database (a backup, a dump, a replica) does
// not hold it in clear, even in the seconds before the page that shows it
// takes it out.

// sealedPurpose binds a sealed session value to its use and key, so that
// no other sealed value (a secrets row) opens as one, nor one key's value
// as another's.
const sealedPurpose = "session-flash"

// PutSealed keeps val under key, sealed, until PopSealed takes it.
func (s *Sessions) PutSealed(ctx context.Context, key string, val []byte) error {
	if s.ring == nil {
		return errors.New("sessions: no seal keys to seal " + key + " with")
	}
	keyID, ct, err := s.ring.Seal(val, seal.AAD("sessions", key, sealedPurpose))
	if err != nil {
		return fmt.Errorf("seal session value %s: %w", key, err)
	}
	// Key ids are letters, digits, '_' and '-' (seal.ParseKeys): the dot
	// ends one.
	s.Put(ctx, key, append([]byte(keyID+"."), ct...))
	return nil
}

// PopSealed takes the value PutSealed kept under key, opened; nil when
// there is none.
func (s *Sessions) PopSealed(ctx context.Context, key string) ([]byte, error) {
	b := s.PopBytes(ctx, key)
	if b == nil {
		return nil, nil
	}
	keyID, ct, ok := strings.Cut(string(b), ".")
	if !ok || s.ring == nil {
		return nil, fmt.Errorf("open session value %s: not sealed, or no seal keys", key)
	}
	val, err := s.ring.Open(keyID, []byte(ct), seal.AAD("sessions", key, sealedPurpose))
	if err != nil {
		return nil, fmt.Errorf("open session value %s: %w", key, err)
	}
	return val, nil
}
