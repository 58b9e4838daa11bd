package store

import (
	"strings"
	"unicode/utf8"
)

// Storable reports whether PostgreSQL can hold s in a text column: valid
// UTF-8 without NUL. The database refuses either ("invalid byte sequence
// for encoding UTF8: 0x00", SQLSTATE 22021) and fails the whole statement,
// which the caller would see as a 5xx; so whatever a person or an API key
// types is checked with this before it reaches a query, and refused there
// with a message naming the field. Checks that refuse more (control
// characters in an address) build on it.
func Storable(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// NotText says to whoever typed a value Storable refused what to do, in a
// sentence every surface shows alike (beside the field's name).
const NotText = "Remove the character that is not text: a NUL (U+0000), or bytes that are not UTF-8."
