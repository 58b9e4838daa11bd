package seal

import (
	"crypto/sha256"
	"io"

	"golang.org/x/crypto/hkdf"
)

// subKeyContext names and versions the derivation, as aadContext does the
// AAD: no other use of HKDF with these keys can produce the same bytes.
const subKeyContext = "presencebridge/seal/subkey/v1"

// Derive returns a ring of sub-keys for purpose: each key of r replaced by
// HKDF-SHA256 (RFC 5869) of it, with the purpose in the info, under the
// same id, the same one active. Values sealed for one purpose — link
// tokens handed out in URLs, say — then never share key material with the
// secrets the keys themselves seal, nor with another purpose's values; the
// AAD already keeps them apart, and this keeps a flaw in one use (a
// nonce budget spent, a token format that leaks) from reaching the
// others. Every instance derives the same sub-keys from the same keys, and
// removing a key from the ring removes its sub-keys with it.
func (r *Ring) Derive(purpose string) *Ring {
	sub := make([]Key, len(r.keys))
	for i, k := range r.keys {
		sub[i] = newKey(k.ID)
		kdf := hkdf.New(sha256.New, k.secret()[:], nil, AAD(subKeyContext, purpose))
		// HKDF-SHA256 gives up to 255×32 bytes: 32 never fail.
		if _, err := io.ReadFull(kdf, sub[i].secret()[:]); err != nil {
			panic("seal: derive a sub-key: " + err.Error())
		}
	}
	d, err := NewRing(sub, r.active)
	if err != nil { // the ids and the active one are r's, which NewRing accepted
		panic("seal: derive a ring: " + err.Error())
	}
	return d
}
