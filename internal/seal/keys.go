package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Key is one AES-256 key and its id. Its secret never prints: fmt and slog
// show only the id.
//
// The secret is reached through a func, not held as bytes or a pointer to
// them, because of values fmt cannot call methods on: a Key in another
// struct's unexported field is printed by reflection. fmt prints a func as an
// address under every verb; a [32]byte prints its bytes, and a *[32]byte
// prints them too under a verb it does not fit (%s, %q).
type Key struct {
	ID     string
	secret func() *[32]byte
}

func newKey(id string) Key {
	b := new([32]byte)
	return Key{ID: id, secret: func() *[32]byte { return b }}
}

func (k Key) String() string       { return "seal.Key(" + k.ID + ")" }
func (k Key) GoString() string     { return k.String() }
func (k Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

// Format implements fmt.Formatter, so that no verb (%x, %d, %+v …) reaches
// the secret through reflection.
func (k Key) Format(f fmt.State, _ rune) { f.Write([]byte(k.String())) }

const idRule = "an id is 1 to 32 of A-Z a-z 0-9 _ -"

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, c := range []byte(id) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// GenerateKey returns a new random key from crypto/rand.
func GenerateKey(id string) (Key, error) {
	if !validID(id) {
		return Key{}, fmt.Errorf("key id %q: %s", id, idRule)
	}
	k := newKey(id)
	// crypto/rand.Read never fails on supported platforms; it crashes the
	// program rather than return short.
	rand.Read(k.secret()[:])
	return k, nil
}

// FormatKey renders a key as "id:base64", the form ParseKeys reads. The
// result holds key material: write it only where keys belong.
func FormatKey(k Key) string {
	if k.secret == nil {
		return k.ID + ":"
	}
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.secret()[:])
}

// ParseKeys reads keys written as "id:base64" — 32 bytes in standard base64,
// padded or not — separated by commas or newlines, as in PB_SEAL_KEYS or a
// key file. Blank lines and lines starting with # are ignored. Keys come back
// in the order listed.
//
// Errors name the entry by its position and, once the id is known to be
// well formed, its id; they never include key material. A malformed id is
// not echoed either: it may be a key pasted in the wrong place.
func ParseKeys(text string) ([]Key, error) {
	var keys []Key
	seen := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			pos := len(keys) + 1
			k, err := parseKey(entry)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", pos, err)
			}
			if first, dup := seen[k.ID]; dup {
				return nil, fmt.Errorf("key %d: id %q is listed twice (also key %d)", pos, k.ID, first)
			}
			seen[k.ID] = pos
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys found (want id:base64 entries)")
	}
	return keys, nil
}

func parseKey(entry string) (Key, error) {
	id, b64, ok := strings.Cut(entry, ":")
	if !ok {
		return Key{}, errors.New("not in the form id:base64")
	}
	id = strings.TrimSpace(id)
	if !validID(id) {
		return Key{}, errors.New("bad id: " + idRule)
	}
	b64 = strings.TrimSpace(b64)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		// The decoder's error names an offset only, but say it ourselves
		// so that no future wording can carry input along.
		return Key{}, fmt.Errorf("id %q: the key is not valid base64", id)
	}
	defer clear(raw)
	if len(raw) != 32 {
		return Key{}, fmt.Errorf("id %q: the key is %d bytes, want 32 (AES-256)", id, len(raw))
	}
	k := newKey(id)
	copy(k.secret()[:], raw)
	return k, nil
}

// LoadRing parses keys and builds a ring. An empty activeID selects the last
// key listed, so that appending a new key and restarting activates it.
func LoadRing(text, activeID string) (*Ring, error) {
	keys, err := ParseKeys(text)
	if err != nil {
		return nil, err
	}
	if activeID == "" {
		activeID = keys[len(keys)-1].ID
	}
	return NewRing(keys, activeID)
}
