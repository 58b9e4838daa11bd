package seal

import "encoding/binary"

// aadContext versions the AAD encoding itself.
const aadContext = "presencebridge/seal/v1"

// AAD encodes the parts a ciphertext is bound to — by convention the table,
// the row id, the tenant id and the purpose — unambiguously: each part is
// length-prefixed, so AAD("a", "bc") differs from AAD("ab", "c").
func AAD(parts ...string) []byte {
	n := len(aadContext) + 4
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(aadContext)))
	b = append(b, aadContext...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}
