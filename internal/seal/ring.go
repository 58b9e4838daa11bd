// Package seal encrypts secrets before they reach the database: refresh
// tokens, client secrets, webhook signing secrets.
//
// Each value is sealed with AES-256-GCM under one key of a Ring, with a
// random 96-bit nonce (cipher.NewGCMWithRandomNonce). Random nonces are safe
// for about 2^32 messages per key; key rotation, not a counter, is the
// answer to that limit, so every sealed row records the id of its key and a
// ring holds several keys, exactly one of them active. Old rows stay
// readable until `presencebridge keys rotate` has re-sealed them.
//
// The additional authenticated data (AAD) binds a ciphertext to where it
// belongs — tenant, row id, purpose — so that someone able to write to the
// database cannot move a sealed token to another row or relabel it: it would
// simply fail to open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

var (
	// ErrOpen means the ciphertext does not authenticate: wrong key, wrong
	// AAD, or tampered bytes. It says no more, by design.
	ErrOpen = errors.New("seal: message authentication failed")
	// ErrUnknownKey means the ring lacks the key a value was sealed with.
	ErrUnknownKey = errors.New("seal: key not in the ring")
)

// Ring is a set of keys, one of them active for sealing.
type Ring struct {
	active string
	aeads  map[string]cipher.AEAD
}

// NewRing builds a ring; activeID must name one of keys.
func NewRing(keys []Key, activeID string) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no seal keys given")
	}
	r := &Ring{active: activeID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("seal key id %q is listed twice", k.ID)
		}
		block, err := aes.NewCipher(k.secret[:])
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, err
		}
		r.aeads[k.ID] = aead
	}
	if _, ok := r.aeads[activeID]; !ok {
		return nil, fmt.Errorf("active seal key %q is not among the keys given", activeID)
	}
	return r, nil
}

// ActiveID is the id of the key new values are sealed with.
func (r *Ring) ActiveID() string { return r.active }

// Has reports whether the ring holds key id.
func (r *Ring) Has(id string) bool { _, ok := r.aeads[id]; return ok }

// Seal encrypts plaintext under the active key, bound to aad.
func (r *Ring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error) {
	return r.active, r.aeads[r.active].Seal(nil, nil, plaintext, aad), nil
}

// Open decrypts a value sealed under keyID with the same aad.
func (r *Ring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	if len(ciphertext) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, nil, ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Reseal moves a value to the active key. A value already under the active
// key is returned unchanged with changed false, which makes rotation
// idempotent.
func (r *Ring) Reseal(keyID string, ciphertext, aad []byte) (newKeyID string, newCiphertext []byte, changed bool, err error) {
	if keyID == r.active {
		return keyID, ciphertext, false, nil
	}
	pt, err := r.Open(keyID, ciphertext, aad)
	if err != nil {
		return "", nil, false, err
	}
	id, ct, err := r.Seal(pt, aad)
	clear(pt)
	return id, ct, err == nil, err
}
