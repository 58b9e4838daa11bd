package graphhook

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"presencebridge/internal/notification"
)

// Items the door could read but must not store as sent: the inbox's
// payload is jsonb, which is not what encoding/json reads (nor
// notification.Unmarshal, which decodes as it does).
//
//   - jsonb refuses a string holding \u0000, a lone surrogate (\ud800
//     without its low half, or \udc00 alone) or bytes that are not UTF-8,
//     all of which encoding/json reads (as U+0000 and U+FFFD). Stored as
//     sent, such an item failed the one multi-row insert of its group
//     commit, so every POST of the batch — any tenant's — was answered 503,
//     and its own POST's genuine items at each of Graph's retries.
//   - encoding/json matches a key to a field case-insensitively (Unicode
//     simple folding: "ſubscriptionId" is subscriptionId) and the last key
//     in the text wins; jsonb keeps keys differing in case as different
//     keys and writes them back in its own order (shorter first, then by
//     bytes). The door checked the clientState against the subscription
//     it read, and the processor, reading the stored row, could take
//     another one ("SubscriptionId" then "subscriptionId" come back the
//     other way round). Graph sends neither, so such an item is refused.
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

// storableNumber says whether jsonb holds a number (valid JSON) in
// reasonable room. Its numeric refuses an exponent past about ±131,072
// ("value overflows numeric format") and writes 1e131071 out as 131,072
// digits; Graph sends no number beyond a double's, which is the bound.
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
// quotes, valid JSON) are all ones jsonb reads: no \u0000, every
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
