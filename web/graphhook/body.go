package graphhook

import (
	"bytes"
	"encoding/json"
	"errors"

	"presencebridge/internal/notification"
)

// A POST's body is read once when it can be. Decoding the whole body and
// then each item again, and compacting each item into the inbox row with
// json.Marshal, scanned every byte five times: 76 % of the receiver's CPU
// in BenchmarkIntakeThroughput's profile, where the reference receiver
// (bench/reference-receiver) scans twice. Now the whole body is decoded
// once, by the decoder internal/intake's processor reads the row with
// again (notification.Unmarshal), so the door checks what the processor
// will act on; the items' bytes are found by a split that leans on that
// decoder's validation
// (splitValue), and copied into the row without whitespace
// (appendCompact). A body that is not plainly shaped for the split, or
// with an item that does not decode, is parsed item by item as before, so
// an item the door cannot read is refused alone.

// collection is a changeNotificationCollection as the door reads it.
type collection struct {
	items            []bodyItem
	ValidationTokens []string
}

// bodyItem is one item of a POST: decoded, and as sent.
type bodyItem struct {
	n         notification.Notification
	raw       []byte
	malformed bool // it does not decode as a notification
}

var (
	errNotCollection = errors.New("not a change notification collection")
	errOverLimit     = errors.New("over the items limit")
)

// parse reads a POST's body: errNotCollection when it is not a collection,
// errOverLimit (and its item count) when it holds more than MaxItems.
func parse(body []byte) (collection, int, error) {
	// The split comes first: it counts the items without allocating for
	// them, so a body of millions of tiny items is never decoded whole —
	// nor one of more than MaxItems at all: decoding 2,001 items only to
	// refuse them took a core from Graph's POSTs in the intake flood
	// (FAULTS.md). Such a body is refused on the split's count, which is
	// the decoder's when the body is valid JSON; when it is not, it is
	// refused (400) as over the limit rather than as malformed.
	raws, ok := splitValue(body)
	if ok && len(raws) > MaxItems {
		return collection{}, len(raws), errOverLimit
	}
	if ok {
		var c struct {
			Value            []notification.Notification `json:"value"`
			ValidationTokens []string                    `json:"validationTokens"`
		}
		if notification.Unmarshal(body, &c) == nil && c.Value != nil && len(c.Value) == len(raws) {
			items := make([]bodyItem, len(raws))
			for i := range items {
				items[i] = bodyItem{n: c.Value[i], raw: raws[i]}
			}
			return collection{items: items, ValidationTokens: c.ValidationTokens}, len(items), nil
		}
	}
	var c struct {
		Value            []json.RawMessage `json:"value"`
		ValidationTokens []string          `json:"validationTokens"`
	}
	if err := notification.Unmarshal(body, &c); err != nil || c.Value == nil {
		return collection{}, 0, errNotCollection
	}
	if len(c.Value) > MaxItems {
		return collection{}, len(c.Value), errOverLimit
	}
	items := make([]bodyItem, len(c.Value))
	for i, raw := range c.Value {
		items[i].raw = raw
		items[i].malformed = notification.Unmarshal(raw, &items[i].n) != nil
	}
	return collection{items: items, ValidationTokens: c.ValidationTokens}, len(items), nil
}

// splitValue returns the items of body's top-level "value" array as sent.
// It checks only the structure it walks, and is right only on valid JSON,
// which the decoder then confirms; ok is false where a key could name
// value otherwise than plainly — escaped, in other letter case
// (encoding/json matches keys case-insensitively), or twice (the last
// wins) — so that the split's items are always those the decoder read.
func splitValue(body []byte) (items [][]byte, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	found := false
	for i < len(body) && body[i] == '"' {
		end := stringEnd(body, i)
		if end < 0 {
			return nil, false
		}
		key := body[i+1 : end-1]
		if i = skipSpace(body, end); i >= len(body) || body[i] != ':' {
			return nil, false
		}
		i = skipSpace(body, i+1)
		switch {
		case bytes.IndexByte(key, '\\') >= 0:
			return nil, false
		case string(key) == "value" && !found:
			found = true
			if items, i, ok = splitArray(body, i); !ok {
				return nil, false
			}
		case bytes.EqualFold(key, []byte("value")):
			return nil, false
		default:
			if i, ok = skipValue(body, i); !ok {
				return nil, false
			}
		}
		if i = skipSpace(body, i); i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
			continue
		}
		break
	}
	if i >= len(body) || body[i] != '}' || !found {
		return nil, false
	}
	return items, true
}

// splitArray returns the elements of the array at body[i].
func splitArray(body []byte, i int) (elems [][]byte, next int, ok bool) {
	if i >= len(body) || body[i] != '[' {
		return nil, i, false
	}
	elems = [][]byte{}
	if i = skipSpace(body, i+1); i < len(body) && body[i] == ']' {
		return elems, i + 1, true
	}
	for i < len(body) {
		end, ok := skipValue(body, i)
		if !ok {
			return nil, i, false
		}
		elems = append(elems, body[i:end])
		i = skipSpace(body, end)
		switch {
		case i >= len(body):
			return nil, i, false
		case body[i] == ']':
			return elems, i + 1, true
		case body[i] != ',':
			return nil, i, false
		}
		i = skipSpace(body, i+1)
	}
	return nil, i, false
}

// skipValue returns where the value at body[i] ends.
func skipValue(body []byte, i int) (int, bool) {
	if i >= len(body) {
		return i, false
	}
	switch body[i] {
	case '"':
		end := stringEnd(body, i)
		return end, end > 0
	case '{', '[':
		depth := 0
		for i < len(body) {
			switch body[i] {
			case '"':
				end := stringEnd(body, i)
				if end < 0 {
					return i, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	}
	start := i // a number, true, false or null
	for i < len(body) && !isSpace(body[i]) && body[i] != ',' && body[i] != '}' && body[i] != ']' {
		i++
	}
	return i, i > start
}

// stringEnd returns where the string opened at body[i] ends (after its
// closing quote), or -1. The quote is looked for with IndexByte, so the
// long base64 strings of rich items are crossed at memory speed.
func stringEnd(body []byte, i int) int {
	for j := i + 1; j < len(body); {
		k := bytes.IndexByte(body[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		escapes := 0
		for p := q - 1; p > i && body[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return -1
}

func skipSpace(body []byte, i int) int {
	for i < len(body) && isSpace(body[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// appendPayload appends an inbox row's payload — {"value":[…],
// "validationTokens":[…]} of raws, the items as sent (valid JSON) — exactly
// as json.Marshal writes that struct of []json.RawMessage (tokens omitted
// when none), without scanning the items again.
func appendPayload(dst []byte, raws [][]byte, tokens []string) []byte {
	dst = append(dst, `{"value":[`...)
	for i, raw := range raws {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCompact(dst, raw)
	}
	dst = append(dst, ']')
	if len(tokens) > 0 {
		t, _ := json.Marshal(tokens) // strings always marshal
		dst = append(dst, `,"validationTokens":`...)
		dst = append(dst, t...)
	}
	return append(dst, '}')
}

// appendCompact appends src, valid JSON, as json.Marshal writes a
// json.RawMessage: whitespace outside strings dropped, and <, >, &, U+2028
// and U+2029 escaped (encoding/json's appendCompact with HTML escaping),
// which FuzzNotificationPOST holds it to byte for byte.
func appendCompact(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	start, inString := 0, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !inString {
			switch {
			case c == '"':
				// Most strings — a rich item's base64 above all — hold
				// nothing to escape: such a one is crossed to its closing
				// quote with IndexByte, each string looked at once.
				if q := bytes.IndexByte(src[i+1:], '"'); q >= 0 && plain(src[i+1:i+1+q]) {
					i += q + 1
					continue
				}
				inString = true
			case isSpace(c):
				dst = append(dst, src[start:i]...)
				start = i + 1
			}
			continue
		}
		switch {
		case c == '\\':
			i++ // the escaped byte; \u's hex digits are plain
		case c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

// plain reports whether a piece of a string holds nothing appendCompact
// changes and no escape (after which a quote does not end the string).
func plain(b []byte) bool {
	for _, c := range []byte{'\\', '<', '>', '&', 0xE2} {
		if bytes.IndexByte(b, c) >= 0 {
			return false
		}
	}
	return true
}
