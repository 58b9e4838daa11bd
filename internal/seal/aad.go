package seal

import "encoding/binary"

// aadContext names and versions the AAD encoding, so that no other use of
// the same keys can produce the same bytes.
const aadContext = "presencebridge/seal/v1"

// AAD encodes what a ciphertext is bound to. For the secrets table the parts
// are, in order: the table name ("secrets"), the row id, the tenant id and
// the purpose (such as "monitor-refresh-token"). Sealing and opening must
// pass the same parts.
//
// The encoding is unambiguous: a fixed context string, then each part
// prefixed with its length as a 4-byte big-endian integer, so that
// AAD("a", "bc") differs from AAD("ab", "c") and AAD("a", "") from AAD("a").
func AAD(parts ...string) []byte {
	n := 4 + len(aadContext)
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	b = appendPart(b, aadContext)
	for _, p := range parts {
		b = appendPart(b, p)
	}
	return b
}

func appendPart(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
