package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

var (
	// ErrOpen means the ciphertext does not authenticate: wrong key, wrong
	// AAD, or tampered or truncated bytes. It says no more, by design.
	ErrOpen = errors.New("seal: message authentication failed")
	// ErrUnknownKey means the ring lacks the key a value was sealed with; it
	// is returned wrapped with that key's id.
	ErrUnknownKey = errors.New("seal: key not in the ring")
)

// Ring is a set of keys, exactly one of them active for sealing. It is safe
// for concurrent use.
type Ring struct {
	active string
	aeads  map[string]cipher.AEAD
	keys   []Key // for Derive
}

// NewRing builds a ring from keys made by ParseKeys or GenerateKey; activeID
// must name one of them.
func NewRing(keys []Key, activeID string) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no seal keys given")
	}
	r := &Ring{active: activeID, aeads: make(map[string]cipher.AEAD, len(keys)), keys: keys}
	for _, k := range keys {
		if !validID(k.ID) {
			return nil, fmt.Errorf("seal key id %q: %s", k.ID, idRule)
		}
		if k.secret == nil {
			// A Key literal from another package has no secret; sealing
			// with an all-zero key would look like it works.
			return nil, fmt.Errorf("seal key %q has no secret: make keys with ParseKeys or GenerateKey", k.ID)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("seal key id %q is listed twice", k.ID)
		}
		block, err := aes.NewCipher(k.secret()[:])
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
func (r *Ring) Has(id string) bool {
	_, ok := r.aeads[id]
	return ok
}

// Seal encrypts plaintext under the active key, bound to aad. Store keyID
// next to the ciphertext: Open needs it.
func (r *Ring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte, err error) {
	return r.active, r.aeads[r.active].Seal(nil, nil, plaintext, aad), nil
}

// Open decrypts a value sealed under keyID with the same aad. It fails with
// ErrUnknownKey if the ring lacks keyID and with ErrOpen if the value does
// not authenticate.
func (r *Ring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	pt, err := aead.Open(nil, nil, ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Reseal moves a value to the active key: it opens it under keyID and seals
// it again with the same aad. A value already under the active key is
// returned untouched, without being opened, and changed is false; that makes
// rotation idempotent, so an interrupted `keys rotate` can simply run again.
func (r *Ring) Reseal(keyID string, ciphertext, aad []byte) (newKeyID string, newCiphertext []byte, changed bool, err error) {
	if keyID == r.active {
		return keyID, ciphertext, false, nil
	}
	pt, err := r.Open(keyID, ciphertext, aad)
	if err != nil {
		return "", nil, false, err
	}
	defer clear(pt)
	id, ct, err := r.Seal(pt, aad)
	if err != nil {
		return "", nil, false, err
	}
	return id, ct, true, nil
}
