package seal

import (
	"errors"
	"testing"
)

// TestADerivedRingSealsUnderSubKeysOfItsPurposeOnly: what a ring derived
// for one purpose seals opens under the same ids in any ring derived from
// the same keys for that purpose (another instance), and neither under the
// keys themselves nor under another purpose's sub-keys.
func TestADerivedRingSealsUnderSubKeysOfItsPurposeOnly(t *testing.T) {
	data := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))
	links := data.Derive("links")
	if links.ActiveID() != "k2" || !links.Has("k1") || links.Has("k3") {
		t.Fatalf("derived ring: active %q, has k1 %v, has k3 %v; want the same ids, the same active", links.ActiveID(), links.Has("k1"), links.Has("k3"))
	}
	id, ct, err := links.Seal([]byte("payload"), rowAAD)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2)).Derive("links")
	if got, err := elsewhere.Open(id, ct, rowAAD); err != nil || string(got) != "payload" {
		t.Fatalf("another instance's ring derived for the same purpose: %q, %v", got, err)
	}
	if _, err := data.Open(id, ct, rowAAD); !errors.Is(err, ErrOpen) {
		t.Errorf("the data key itself opened what its sub-key sealed: %v", err)
	}
	if _, err := data.Derive("sessions").Open(id, ct, rowAAD); !errors.Is(err, ErrOpen) {
		t.Errorf("another purpose's sub-key opened it: %v", err)
	}
	id, ct, _ = data.Seal([]byte("secret"), rowAAD)
	if _, err := links.Open(id, ct, rowAAD); !errors.Is(err, ErrOpen) {
		t.Errorf("a sub-key opened what the data key sealed: %v", err)
	}
}
