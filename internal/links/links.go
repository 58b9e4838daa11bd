// Package links makes and opens the signed, expiring links Presence Bridge
// hands out: onboarding invitations and "Copy URL" monitor sign-in links.
//
// A link token is the payload sealed with the active seal key
// (AES-256-GCM, internal/seal), so it is both tamper-proof and opaque: the
// tenant or monitor it names is not readable from the URL. The AAD binds a
// token to its purpose, so an invitation can never be replayed as a
// monitor link. Old keys keep opening their tokens after a key rotation.
package links

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"presencebridge/internal/seal"
)

// Errors from Open. Both mean "ask for a new link"; pages say which.
var (
	ErrInvalid = errors.New("links: the link is not valid")
	ErrExpired = errors.New("links: the link has expired")
)

// Signer makes and opens links.
type Signer struct {
	ring *seal.Ring
	now  func() time.Time
}

// New returns a Signer over ring; now defaults to time.Now.
func New(ring *seal.Ring, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{ring: ring, now: now}
}

type envelope struct {
	Expires int64           `json:"exp"`
	Payload json.RawMessage `json:"p"`
}

func aad(purpose string) []byte { return seal.AAD("links", purpose) }

// Make seals payload for purpose, valid for ttl.
func (s *Signer) Make(purpose string, payload any, ttl time.Duration) (string, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("links: %w", err)
	}
	env, _ := json.Marshal(envelope{Expires: s.now().Add(ttl).Unix(), Payload: p})
	keyID, ct, err := s.ring.Seal(env, aad(purpose))
	if err != nil {
		return "", err
	}
	return keyID + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open checks token for purpose and decodes its payload into v. It also
// returns when the link expires.
func (s *Signer) Open(purpose, token string, v any) (time.Time, error) {
	keyID, b64, ok := strings.Cut(token, ".")
	if !ok || !s.ring.Has(keyID) {
		return time.Time{}, ErrInvalid
	}
	ct, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return time.Time{}, ErrInvalid
	}
	plain, err := s.ring.Open(keyID, ct, aad(purpose))
	if err != nil {
		return time.Time{}, ErrInvalid
	}
	var env envelope
	if err := json.Unmarshal(plain, &env); err != nil {
		return time.Time{}, ErrInvalid
	}
	exp := time.Unix(env.Expires, 0)
	if !s.now().Before(exp) {
		return exp, ErrExpired
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return exp, ErrInvalid
	}
	return exp, nil
}
