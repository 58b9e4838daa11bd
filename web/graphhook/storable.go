package graphhook

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"presencebridge/internal/notification"
)

// Items the door could read but must not store as sent. The door was
// built when the inbox's payload was jsonb, which is not what
// encoding/json reads (nor notification.Unmarshal, which decodes as it
// does); since migration 000063 the payload is text, kept byte for byte,
// and the processor reads what the door read. What each refusal guards
// now:
//
//   - Bytes that are not UTF-8: PostgreSQL's text refuses them as jsonb
//     did. Stored as sent, such an item failed the one multi-row insert of
//     its group commit, so every POST of the batch — any tenant's — was
//     answered 503, and its own POST's genuine items at each of Graph's
//     retries.
//   - \u0000: text keeps the escape, but the processor decodes it to a NUL
//     character, which PostgreSQL refuses wherever the decoded string is
//     passed on (a lookup's argument, a stored value): the item's batch
//     would fail at every attempt until it was quarantined.
//   - A lone surrogate (\ud800 without its low half, or \udc00 alone), a
//     number past a double's range, keys differing only in case: jsonb
//     refused the first two, and reordered the keys so that the processor
//     could take another subscriptionId than the one whose clientState the
//     door checked (encoding/json matches a key to a field
//     case-insensitively, with Unicode simple folding — "ſubscriptionId" is
//     subscriptionId — and the last key in the text wins). As text they
//     endanger neither the commit nor that check; they stay refused because
//     Graph sends none of them and JSON readers disagree on each (RFC 8259
//     §4, §6, §8.2): an item that reads differently to different readers
//     is not kept.
//
// Exact duplicates are read alike — the last wins in both — and pass.
const (
	rejectUnstorable    = "unstorable"
	rejectAmbiguousKeys = "keys_differing_in_case"
)

// walk is the memory unstorable reuses from one item of a POST to the
// next.
type walk struct {
	keys   []objectKey // of the objects open, innermost last
	open   []int       // per container open: where its keys start in keys, -1 for an array
	folded []byte      // keys' folded forms, one after the other
}

// unstorable says why raw, an item notification.Unmarshal decoded (so valid JSON
// but for the UTF-8 of its strings), must not be stored: a reject reason,
// or "".
func (w *walk) unstorable(raw []byte) string {
	if !utf8.Valid(raw) {
		return rejectUnstorable
	}
	keys, open, folded := w.keys[:0], w.open[:0], w.folded[:0]
	defer func() { w.keys, w.open, w.folded = keys[:0], open[:0], folded[:0] }()
	expected := false // the next string is a key
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			end := stringEnd(raw, i)
			s := raw[i+1 : end-1]
			escaped := bytes.IndexByte(s, '\\') >= 0
			if escaped && !storableEscapes(s) {
				return rejectUnstorable
			}
			if expected {
				if escaped {
					var k string
					_ = notification.Unmarshal(raw[i:end], &k) // valid: decoded with its item
					s = []byte(k)
				}
				start := len(folded)
				folded = appendFolded(folded, s)
				keys = append(keys, objectKey{name: s, folded: folded[start:len(folded):len(folded)]})
				expected = false
			}
			i = end - 1
		case '{':
			open = append(open, len(keys))
			expected = true
		case '[':
			open = append(open, -1)
		case ',':
			expected = open[len(open)-1] >= 0
		case '}':
			start := open[len(open)-1]
			if ambiguous(keys[start:]) {
				return rejectAmbiguousKeys
			}
			keys, open = keys[:start], open[:len(open)-1]
		case ']':
			open = open[:len(open)-1]
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			end := i
			for end < len(raw) && bytes.IndexByte([]byte("+-.0123456789eE"), raw[end]) >= 0 {
				end++
			}
			if !storableNumber(raw[i:end]) {
				return rejectUnstorable
			}
			i = end - 1
		}
	}
	return ""
}

// storableNumber says whether a number (valid JSON) is written in at most
// 64 characters with an exponent within a double's (±308), as every number
// Graph sends is. (jsonb's numeric, which the inbox used before migration
// 000063, refused an exponent past about ±131,072 and wrote 1e131071 out
// as 131,072 digits.)
func storableNumber(n []byte) bool {
	if len(n) > 64 {
		return false
	}
	e := bytes.IndexAny(n, "eE")
	if e < 0 {
		return true
	}
	exp := 0
	for _, c := range n[e+1:] {
		if c >= '0' && c <= '9' {
			if exp = exp*10 + int(c-'0'); exp > 308 {
				return false
			}
		}
	}
	return true
}

// objectKey is a key of an object, decoded, and folded as encoding/json
// matches it.
type objectKey struct{ name, folded []byte }

// ambiguous says whether two of an object's keys differ only in case.
func ambiguous(keys []objectKey) bool {
	if len(keys) <= 16 { // Graph's objects have up to 10
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				if bytes.Equal(keys[i].folded, keys[j].folded) && !bytes.Equal(keys[i].name, keys[j].name) {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if name, ok := seen[string(k.folded)]; ok && !bytes.Equal(name, k.name) {
			return true
		}
		seen[string(k.folded)] = k.name
	}
	return false
}

// appendFolded appends in folded as encoding/json folds a key to match it
// to a field (its foldName, equal for two keys exactly when
// bytes.EqualFold holds): ASCII letters upper-cased, any other rune the
// smallest of its simple folding orbit.
func appendFolded(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		for {
			f := unicode.SimpleFold(r)
			if f <= r {
				r = f
				break
			}
			r = f
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// storableEscapes says whether a string's escapes (s is between its
// quotes, valid JSON) are all ones the door keeps: no \u0000, every
// surrogate escape one of a high-low pair.
func storableEscapes(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if s[i] != 'u' {
			continue
		}
		r := hex4(s[i+1 : i+5])
		i += 4
		switch {
		case r == 0:
			return false
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low half with no high half before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' {
				return false
			}
			if low := hex4(s[i+3 : i+7]); low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 reads four hex digits (valid JSON's \u escape).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
