package links

import (
	"errors"
	"strings"
	"testing"
	"time"

	"presencebridge/internal/seal"
)

type invite struct {
	Tenant string `json:"t"`
}

func ring(t testing.TB, ids ...string) (*seal.Ring, []seal.Key) {
	t.Helper()
	var keys []seal.Key
	for _, id := range ids {
		k, err := seal.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	r, err := seal.NewRing(keys, ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	return r, keys
}

func TestLinksRoundTripExpireAndStayBoundToTheirPurpose(t *testing.T) {
	r, _ := ring(t, "k1")
	now := time.Now()
	s := New(r, func() time.Time { return now })
	tok, err := s.Make("invite", invite{Tenant: "contoso"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "contoso") || strings.ContainsAny(tok, "/+=?&#") {
		t.Errorf("token %q shows its payload or is not URL-safe", tok)
	}
	var got invite
	exp, err := s.Open("invite", tok, &got)
	if err != nil || got.Tenant != "contoso" || exp.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("Open = %+v, %v, %v", got, exp, err)
	}
	if _, err := s.Open("monitor", tok, &got); !errors.Is(err, ErrInvalid) {
		t.Errorf("opened for another purpose: %v", err)
	}
	for _, bad := range []string{"", "k1", "k1.", "zz." + tok[3:], tok[:len(tok)-2], tok + "A", strings.Replace(tok, ".", ".A", 1)} {
		if _, err := s.Open("invite", bad, &got); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	now = now.Add(time.Hour)
	if _, err := s.Open("invite", tok, &got); !errors.Is(err, ErrExpired) {
		t.Errorf("expired link: %v", err)
	}
}

func TestLinksSurviveKeyRotation(t *testing.T) {
	old, keys := ring(t, "k1")
	tok, err := New(old, nil).Make("monitor", invite{Tenant: "x"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := seal.GenerateKey("k2")
	rotated, err := seal.NewRing(append(keys, k2), "k2")
	if err != nil {
		t.Fatal(err)
	}
	var got invite
	if _, err := New(rotated, nil).Open("monitor", tok, &got); err != nil || got.Tenant != "x" {
		t.Errorf("old link after rotation: %v", err)
	}
	newTok, _ := New(rotated, nil).Make("monitor", invite{}, time.Hour)
	if !strings.HasPrefix(newTok, "k2.") {
		t.Errorf("new link not under the active key: %q", newTok)
	}
	if _, err := New(old, nil).Open("monitor", newTok, &got); !errors.Is(err, ErrInvalid) {
		t.Errorf("a ring without k2 opened a k2 link: %v", err)
	}
}
