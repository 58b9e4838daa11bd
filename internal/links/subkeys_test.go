package links

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/seal"
)

// TestALinkIsNotSealedUnderTheDataKeys: a link token is sealed under a
// sub-key derived for links from the seal key it names, never under the
// key that seals refresh tokens and client secrets.
func TestALinkIsNotSealedUnderTheDataKeys(t *testing.T) {
	r, _ := ring(t, "k1")
	tok, err := New(r, nil).Make("invite", invite{Tenant: "contoso"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyID, b64, _ := strings.Cut(tok, ".")
	ct, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(keyID, ct, seal.AAD("links", "invite")); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("the data key %s opens a link token: %v", keyID, err)
	}
}

// TestALinkMadeBeforeSubKeysStillOpensUntilItExpires: links handed out
// before sub-keys (sealed with the data key itself) keep working for the
// rest of their life, so a deploy breaks no invitation or Copy URL.
func TestALinkMadeBeforeSubKeysStillOpensUntilItExpires(t *testing.T) {
	r, _ := ring(t, "k1")
	now := time.Now()
	env := `{"exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `,"p":{"t":"contoso"}}`
	keyID, ct, err := r.Seal([]byte(env), seal.AAD("links", "monitor"))
	if err != nil {
		t.Fatal(err)
	}
	old := keyID + "." + base64.RawURLEncoding.EncodeToString(ct)
	s := New(r, func() time.Time { return now })
	var got invite
	if _, err := s.Open("monitor", old, &got); err != nil || got.Tenant != "contoso" {
		t.Fatalf("a link made before sub-keys: %+v, %v", got, err)
	}
	if _, err := s.Open("invite", old, &got); !errors.Is(err, ErrInvalid) {
		t.Errorf("opened for another purpose: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := s.Open("monitor", old, &got); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
}

// TestActiveKeyNamesTheKeyLinksAreMadeUnder: what the database records of
// a link it hands out (so that keys rotate knows which keys live links
// need).
func TestActiveKeyNamesTheKeyLinksAreMadeUnder(t *testing.T) {
	r, _ := ring(t, "k1", "k2")
	s := New(r, nil)
	tok, _ := s.Make("invite", invite{}, time.Hour)
	if s.ActiveKey() != "k2" || !strings.HasPrefix(tok, s.ActiveKey()+".") {
		t.Fatalf("ActiveKey %q, token %q", s.ActiveKey(), tok)
	}
}
