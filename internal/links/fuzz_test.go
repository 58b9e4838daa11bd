package links

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzLinkTokens: a link opens, for the purpose it was made for and until
// it expires (to the second), with exactly the payload and expiry it was
// made with; for any other purpose, after expiry, with any byte of it
// changed, or as any other string, it does not open — unless what was
// changed decodes to the same key id and ciphertext (base64 ignores the
// last character's spare bits), which is the same link.
func FuzzLinkTokens(f *testing.F) {
	r, _ := ring(f, "k1", "k2")
	now := time.Unix(1_780_000_000, 0)
	s := New(r, func() time.Time { return now })
	f.Add("invite", "monitor", "contoso", int32(72*3600), uint16(0), byte(0), "")
	f.Add("monitor", "invite", "0d2a6e7c-3c1a-4a3e-9a55-1f6b2d7e8c90", int32(3600), uint16(5), byte(1), "k1.AAAA")
	f.Add("invite", "invite\x00", "", int32(0), uint16(40), byte(0x20), "k2.")
	f.Add("", "x", "\xff\xfe", int32(-1), uint16(2), byte(0x80), "k2.k2.k2")
	f.Fuzz(func(t *testing.T, purpose, other, payload string, ttlSeconds int32, pos uint16, flip byte, raw string) {
		ttl := time.Duration(ttlSeconds) * time.Second
		tok, err := s.Make(purpose, invite{Tenant: payload}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		var got invite
		exp, err := s.Open(purpose, tok, &got)
		wantExp := time.Unix(now.Add(ttl).Unix(), 0)
		switch {
		case !now.Before(wantExp):
			if !errors.Is(err, ErrExpired) || !exp.Equal(wantExp) {
				t.Fatalf("a link expired at %v opened at %v: %v, %v", wantExp, now, exp, err)
			}
		case err != nil || got.Tenant != jsonString(payload) || !exp.Equal(wantExp):
			t.Fatalf("Open(Make(%q)) = %q until %v, %v; want it until %v", payload, got.Tenant, exp, err, wantExp)
		}
		if other != purpose {
			if _, err := s.Open(other, tok, &got); !errors.Is(err, ErrInvalid) {
				t.Fatalf("a %q link opened for %q: %v", purpose, other, err)
			}
		}
		if flip != 0 {
			b := []byte(tok)
			b[int(pos)%len(b)] ^= flip
			if _, err := s.Open(purpose, string(b), &got); !errors.Is(err, ErrInvalid) && !sameLink(string(b), tok) {
				t.Fatalf("a changed link %q (of %q) opened: %v", b, tok, err)
			}
		}
		if _, err := s.Open(purpose, raw, &got); !errors.Is(err, ErrInvalid) && !sameLink(raw, tok) {
			t.Fatalf("%q opened as a %q link: %v", raw, purpose, err)
		}
	})
}

// jsonString is s as it comes back from JSON (invalid UTF-8 replaced).
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// sameLink says whether a and b name the same key and ciphertext.
func sameLink(a, b string) bool {
	ka, ca, _ := strings.Cut(a, ".")
	kb, cb, _ := strings.Cut(b, ".")
	da, errA := base64.RawURLEncoding.DecodeString(ca)
	db, errB := base64.RawURLEncoding.DecodeString(cb)
	return ka == kb && errA == nil && errB == nil && bytes.Equal(da, db)
}
