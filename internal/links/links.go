// Package links makes and opens the signed, expiring links Presence Bridge
// hands out: onboarding invitations and "Copy URL" monitor sign-in links.
//
// A link token is the payload sealed (AES-256-GCM, internal/seal) under a
// sub-key derived for links from the active seal key, so it is both
// tamper-proof and opaque: the tenant or monitor it names is not readable
// from the URL. The token names the seal key by its id; the key that seals
// refresh tokens and client secrets never seals a link itself
// (seal.Ring.Derive). The AAD binds a token to its purpose, so an
// invitation can never be replayed as a monitor link. Old keys keep
// opening their tokens after a key rotation, as long as they stay in the
// ring: the database records which key each live link was made under, and
// `presencebridge keys rotate` names the keys live links still need.
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
	ring *seal.Ring // the sub-keys for links
	// legacy are the seal keys themselves, which links were sealed with
	// before sub-keys: such a link lives at most 7 days (an invitation;
	// a Copy URL 72 hours), so a week after the deploy that brought
	// sub-keys none is left, and the release after it drops legacy.
	legacy *seal.Ring
	now    func() time.Time
}

// New returns a Signer over the seal keys of ring; now defaults to
// time.Now.
func New(ring *seal.Ring, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{ring: ring.Derive(subKeys), legacy: ring, now: now}
}

// subKeys names the sub-keys of links (seal.Ring.Derive).
const subKeys = "links"

// ActiveKey is the id of the seal key new links are made under, which the
// database records beside each link it hands out.
func (s *Signer) ActiveKey() string { return s.ring.ActiveID() }

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
	if err != nil { // perhaps a link made before sub-keys (Signer.legacy)
		if plain, err = s.legacy.Open(keyID, ct, aad(purpose)); err != nil {
			return time.Time{}, ErrInvalid
		}
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
