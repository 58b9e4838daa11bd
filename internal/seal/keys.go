package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Key is one AES-256 key with its id. Its secret never prints: fmt and slog
// show only the id.
type Key struct {
	ID     string
	secret [32]byte
}

func (k Key) String() string       { return "seal.Key(" + k.ID + ")" }
func (k Key) GoString() string     { return k.String() }
func (k Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

// Format implements fmt.Formatter so that no verb (%x, %+v …) reaches the
// secret through reflection.
func (k Key) Format(f fmt.State, _ rune) { f.Write([]byte(k.String())) }

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// GenerateKey returns a new random key.
func GenerateKey(id string) (Key, error) {
	if !keyID.MatchString(id) {
		return Key{}, fmt.Errorf("key id %q: use 1 to 32 of A-Z a-z 0-9 _ -", id)
	}
	k := Key{ID: id}
	if _, err := rand.Read(k.secret[:]); err != nil {
		return Key{}, err
	}
	return k, nil
}

// FormatKey renders a key as "id:base64", the form ParseKeys reads.
func FormatKey(k Key) string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.secret[:])
}

// ParseKeys reads keys written as "id:base64" (32 bytes, standard or raw
// base64), separated by commas or newlines; blank lines and lines starting
// with # are ignored. Errors name the entry by position and id and never
// include key material.
func ParseKeys(text string) ([]Key, error) {
	var keys []Key
	pos := 0
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
			pos++
			k, err := parseKey(entry)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", pos, err)
			}
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
	if !keyID.MatchString(id) {
		return Key{}, errors.New("bad id: use 1 to 32 of A-Z a-z 0-9 _ -")
	}
	b64 = strings.TrimSpace(b64)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return Key{}, fmt.Errorf("id %q: the key is not valid base64", id)
	}
	if len(raw) != 32 {
		return Key{}, fmt.Errorf("id %q: the key is %d bytes, want 32 (AES-256)", id, len(raw))
	}
	k := Key{ID: id}
	copy(k.secret[:], raw)
	clear(raw)
	return k, nil
}

// LoadRing parses keys and builds a ring. An empty activeID selects the last
// key listed, so appending a new key and restarting activates it.
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
