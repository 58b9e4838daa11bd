package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// testKey makes a key whose 32 bytes are all b.
func testKey(id string, b byte) Key {
	k := newKey(id)
	copy(k.secret()[:], bytes.Repeat([]byte{b}, 32))
	return k
}

func testRing(t testing.TB, active string, keys ...Key) *Ring {
	t.Helper()
	r, err := NewRing(keys, active)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var rowAAD = AAD("secrets", "row-1", "tenant-1", "monitor-refresh-token")

func TestSealOpenRoundTrip(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	for _, tc := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"token", []byte("refresh-token"), rowAAD},
		{"empty plaintext", []byte{}, rowAAD},
		{"1 KiB", bytes.Repeat([]byte("t"), 1024), rowAAD},
		{"no AAD", []byte("secret"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ct, err := r.Seal(tc.plaintext, tc.aad)
			if err != nil || id != "k1" {
				t.Fatalf("Seal = %q, %v; want k1", id, err)
			}
			if want := 12 + len(tc.plaintext) + 16; len(ct) != want {
				t.Errorf("ciphertext is %d bytes, want nonce+plaintext+tag = %d", len(ct), want)
			}
			if len(tc.plaintext) > 4 && bytes.Contains(ct, tc.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}
			pt, err := r.Open(id, ct, tc.aad)
			if err != nil || !bytes.Equal(pt, tc.plaintext) {
				t.Fatalf("Open = %q, %v", pt, err)
			}
		})
	}
}

func TestTwoSealsOfTheSamePlaintextDiffer(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct1, _ := r.Seal([]byte("refresh-token"), rowAAD)
	_, ct2, _ := r.Seal([]byte("refresh-token"), rowAAD)
	if bytes.Equal(ct1[:12], ct2[:12]) {
		t.Fatal("two seals share a nonce")
	}
	if bytes.Equal(ct1, ct2) {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestOpenWithWrongAADFailsWithErrOpen(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("secret"), rowAAD)
	for name, other := range map[string][]byte{
		"other row":     AAD("secrets", "row-2", "tenant-1", "monitor-refresh-token"),
		"other tenant":  AAD("secrets", "row-1", "tenant-2", "monitor-refresh-token"),
		"other purpose": AAD("secrets", "row-1", "tenant-1", "webhook-signing-secret"),
		"no AAD":        nil,
	} {
		if _, err := r.Open("k1", ct, other); err != ErrOpen {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
}

func TestOpenFailsWhenAnyBitOfTheCiphertextIsFlipped(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("a refresh token of some length"), rowAAD)
	// Every bit: the nonce (bytes 0–11), the body and the tag (last 16).
	for i := range ct {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			if _, err := r.Open("k1", bad, rowAAD); err != ErrOpen {
				t.Fatalf("byte %d bit %d flipped: %v, want ErrOpen", i, bit, err)
			}
		}
	}
}

func TestOpenFailsOnShortenedOrLengthenedCiphertext(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("secret"), rowAAD)
	for name, bad := range map[string][]byte{
		"empty":            nil,
		"nonce only":       ct[:12],
		"one byte short":   ct[:len(ct)-1],
		"tag cut off":      ct[:len(ct)-16],
		"one byte added":   append(bytes.Clone(ct), 0),
		"shorter than tag": ct[:15],
	} {
		if _, err := r.Open("k1", bad, rowAAD); err != ErrOpen {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
}

func TestOpenWithAnotherKeyUnderTheSameIDFailsWithErrOpen(t *testing.T) {
	_, ct, _ := testRing(t, "k1", testKey("k1", 1)).Seal([]byte("secret"), rowAAD)
	imposter := testRing(t, "k1", testKey("k1", 9))
	if _, err := imposter.Open("k1", ct, rowAAD); err != ErrOpen {
		t.Errorf("other key with the same id: %v, want ErrOpen", err)
	}
}

func TestOpenWithUnknownKeyIDFailsWithErrUnknownKeyNamingIt(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("secret"), rowAAD)
	_, err := r.Open("k7", ct, rowAAD)
	if !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), `"k7"`) {
		t.Errorf("unknown key: %v, want ErrUnknownKey naming k7", err)
	}
}

func TestResealMovesOldKeyValuesToTheActiveKey(t *testing.T) {
	_, ct1, _ := testRing(t, "k1", testKey("k1", 1)).Seal([]byte("token"), rowAAD)
	r := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))

	id, ct2, changed, err := r.Reseal("k1", ct1, rowAAD)
	if err != nil || !changed || id != "k2" {
		t.Fatalf("Reseal = %q, changed %v, %v; want k2, true", id, changed, err)
	}
	withoutK1 := testRing(t, "k2", testKey("k2", 2))
	if pt, err := withoutK1.Open(id, ct2, rowAAD); err != nil || string(pt) != "token" {
		t.Fatalf("resealed value in a ring without k1: %q, %v", pt, err)
	}
	// Until the row is updated, the old value must keep opening.
	if pt, err := r.Open("k1", ct1, rowAAD); err != nil || string(pt) != "token" {
		t.Fatalf("old value while k1 is in the ring: %q, %v", pt, err)
	}
}

func TestResealLeavesActiveKeyValuesUntouched(t *testing.T) {
	r := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))
	_, ct, _ := r.Seal([]byte("token"), rowAAD)
	id, got, changed, err := r.Reseal("k2", ct, rowAAD)
	if err != nil || changed || id != "k2" || !bytes.Equal(got, ct) {
		t.Fatalf("Reseal = %q, changed %v, %v; want the input back unchanged", id, changed, err)
	}
}

func TestResealReportsValuesItCannotOpen(t *testing.T) {
	_, ct, _ := testRing(t, "k1", testKey("k1", 1)).Seal([]byte("token"), rowAAD)
	r := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))
	if _, _, _, err := r.Reseal("k1", ct, AAD("other")); err != ErrOpen {
		t.Errorf("wrong AAD: %v, want ErrOpen", err)
	}
	if _, _, _, err := r.Reseal("k0", ct, rowAAD); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key: %v, want ErrUnknownKey", err)
	}
}

func TestNewRingRejectsBadKeySets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keys   []Key
		active string
		want   string
	}{
		{"no keys", nil, "", "no seal keys"},
		{"duplicate id", []Key{testKey("a", 1), testKey("a", 2)}, "a", "listed twice"},
		{"active id absent", []Key{testKey("a", 1)}, "b", `active seal key "b" is not among`},
		{"bad id", []Key{testKey("a b", 1)}, "a b", "1 to 32"},
		{"key without a secret", []Key{{ID: "a"}}, "a", "has no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRing(tc.keys, tc.active)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewRing: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRingReportsItsKeys(t *testing.T) {
	r := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))
	if r.ActiveID() != "k2" || !r.Has("k1") || !r.Has("k2") || r.Has("k3") {
		t.Fatalf("ActiveID %q, Has k1 %v k2 %v k3 %v", r.ActiveID(), r.Has("k1"), r.Has("k2"), r.Has("k3"))
	}
}

// FuzzOpen opens arbitrary bytes under arbitrary ids and AAD: it must never
// panic, and must fail only with ErrOpen or ErrUnknownKey.
func FuzzOpen(f *testing.F) {
	r := testRing(f, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("seed"), rowAAD)
	f.Add("k1", ct, rowAAD)
	f.Add("k1", ct[:len(ct)-1], rowAAD)
	f.Add("k1", []byte{}, []byte{})
	f.Add("k1", make([]byte, 28), []byte(nil))
	f.Add("zz", ct, rowAAD)
	f.Add("", []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, id string, ct, aad []byte) {
		pt, err := r.Open(id, ct, aad)
		switch {
		case err == nil:
			if id != "k1" || len(pt) != len(ct)-28 {
				t.Fatalf("opened %d bytes under %q from %d", len(pt), id, len(ct))
			}
		case err != ErrOpen && !errors.Is(err, ErrUnknownKey):
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	r := testRing(b, "k1", testKey("k1", 1))
	token := bytes.Repeat([]byte("t"), 1024)
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		r.Seal(token, rowAAD)
	}
}
