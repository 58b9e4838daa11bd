package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKey(id string, b byte) Key {
	k := Key{ID: id}
	copy(k.secret[:], bytes.Repeat([]byte{b}, 32))
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

var aad = AAD("secrets", "row-1", "tenant-1", "monitor-refresh-token")

func TestSealOpenRoundTrip(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	id, ct, err := r.Seal([]byte("refresh-token"), aad)
	if err != nil || id != "k1" {
		t.Fatalf("Seal: %q, %v", id, err)
	}
	if bytes.Contains(ct, []byte("refresh-token")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := r.Open(id, ct, aad)
	if err != nil || string(pt) != "refresh-token" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	_, ct2, _ := r.Seal([]byte("refresh-token"), aad)
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same plaintext are equal: nonce reused")
	}
}

func TestOpenWithWrongAADFails(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("secret"), aad)
	for _, other := range [][]byte{
		AAD("secrets", "row-2", "tenant-1", "monitor-refresh-token"),
		AAD("secrets", "row-1", "tenant-2", "monitor-refresh-token"),
		AAD("secrets", "row-1", "tenant-1", "webhook-signing-secret"),
		nil,
	} {
		if _, err := r.Open("k1", ct, other); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with AAD %q: %v, want ErrOpen", other, err)
		}
	}
}

func TestOpenTamperedCiphertextFails(t *testing.T) {
	r := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("a refresh token of some length"), aad)
	// First byte of the nonce, the middle of the body, the last byte of the tag.
	for _, i := range []int{0, 11, 12, len(ct) / 2, len(ct) - 16, len(ct) - 1} {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := r.Open("k1", bad, aad); !errors.Is(err, ErrOpen) {
			t.Errorf("bit flipped at %d: %v, want ErrOpen", i, err)
		}
	}
	if _, err := r.Open("k1", ct[:len(ct)-1], aad); !errors.Is(err, ErrOpen) {
		t.Errorf("truncated: %v, want ErrOpen", err)
	}
	if _, err := r.Open("k1", nil, aad); !errors.Is(err, ErrOpen) {
		t.Errorf("empty: %v, want ErrOpen", err)
	}
}

func TestOpenWithWrongOrUnknownKey(t *testing.T) {
	r1 := testRing(t, "k1", testKey("k1", 1))
	_, ct, _ := r1.Seal([]byte("secret"), aad)
	imposter := testRing(t, "k1", testKey("k1", 9)) // same id, other key
	if _, err := imposter.Open("k1", ct, aad); !errors.Is(err, ErrOpen) {
		t.Errorf("other key with the same id: %v, want ErrOpen", err)
	}
	if _, err := r1.Open("k7", ct, aad); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "k7") {
		t.Errorf("unknown key: %v, want ErrUnknownKey naming k7", err)
	}
}

func TestResealMovesOldValuesToTheActiveKey(t *testing.T) {
	old := testRing(t, "k1", testKey("k1", 1))
	_, ct1, _ := old.Seal([]byte("token"), aad)

	r := testRing(t, "k2", testKey("k1", 1), testKey("k2", 2))
	// Before rotation, the old value still opens.
	if pt, err := r.Open("k1", ct1, aad); err != nil || string(pt) != "token" {
		t.Fatalf("old value under the new ring: %q, %v", pt, err)
	}
	id, ct2, changed, err := r.Reseal("k1", ct1, aad)
	if err != nil || !changed || id != "k2" {
		t.Fatalf("Reseal = %q, changed %v, %v", id, changed, err)
	}
	if pt, err := testRing(t, "k2", testKey("k2", 2)).Open(id, ct2, aad); err != nil || string(pt) != "token" {
		t.Fatalf("resealed value without k1: %q, %v", pt, err)
	}
	id3, ct3, changed, err := r.Reseal(id, ct2, aad)
	if err != nil || changed || id3 != "k2" || !bytes.Equal(ct3, ct2) {
		t.Fatalf("Reseal of an active-key value changed it: %v %v", changed, err)
	}
	if _, _, _, err := r.Reseal("k1", ct1, AAD("other")); !errors.Is(err, ErrOpen) {
		t.Fatalf("Reseal with the wrong AAD: %v, want ErrOpen", err)
	}
}

func TestAADIsUnambiguous(t *testing.T) {
	pairs := [][2][]byte{
		{AAD("a", "bc"), AAD("ab", "c")},
		{AAD("a", ""), AAD("a")},
		{AAD(""), AAD()},
		{AAD("a|b"), AAD("a", "b")},
	}
	for _, p := range pairs {
		if bytes.Equal(p[0], p[1]) {
			t.Errorf("AAD collision: %q", p[0])
		}
	}
}

func TestNewRingRejectsBadSets(t *testing.T) {
	if _, err := NewRing(nil, ""); err == nil {
		t.Error("empty ring accepted")
	}
	if _, err := NewRing([]Key{testKey("a", 1), testKey("a", 2)}, "a"); err == nil {
		t.Error("duplicate id accepted")
	}
	if _, err := NewRing([]Key{testKey("a", 1)}, "b"); err == nil {
		t.Error("absent active id accepted")
	}
}

func TestParseKeys(t *testing.T) {
	std := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	raw := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))
	r, err := LoadRing("# keys\n\nk1:"+std+"\n k2 : "+raw+" ,k3:"+std+"\n", "")
	if err != nil {
		t.Fatal(err)
	}
	if r.ActiveID() != "k3" || !r.Has("k1") || !r.Has("k2") {
		t.Fatalf("ring: active %s", r.ActiveID())
	}
	if r, _ := LoadRing("k1:"+std+",k2:"+raw, "k1"); r == nil || r.ActiveID() != "k1" {
		t.Fatal("explicit active id ignored")
	}

	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	for input, want := range map[string]string{
		"":                              "no keys",
		"k1" + std:                      "key 1: not in the form id:base64",
		"bad id!:" + std:                "key 1: bad id",
		"k1:" + std + ",k2:%%%" + short: `key 2: id "k2": the key is not valid base64`,
		"k1:" + short:                   `key 1: id "k1": the key is 16 bytes, want 32`,
		"k1:" + std + ",k1:" + std:      `listed twice`,
	} {
		_, err := LoadRing(input, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadRing(%.20q…): %v; want %q", input, err, want)
			continue
		}
		for _, material := range []string{std, short, std[:20]} {
			if strings.Contains(err.Error(), material) {
				t.Errorf("error %q reveals key material", err)
			}
		}
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	secret := base64.StdEncoding.EncodeToString(k.secret[:])
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k, "keys", []Key{k})
	out := fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, []Key{k}) + logs.String()
	if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", k.secret[:4])) {
		t.Fatalf("key material printed: %s", out)
	}
	if !strings.Contains(out, "k1") {
		t.Fatalf("key id not printed: %s", out)
	}
	if !strings.HasPrefix(FormatKey(k), "k1:"+secret) {
		t.Fatal("FormatKey does not give id:base64")
	}
}

func TestEnsureKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "seal.keys")
	created, err := EnsureKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created %v, %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	if _, err := LoadRing(string(first), ""); err != nil {
		t.Fatalf("created file does not load: %v", err)
	}
	created, err = EnsureKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created %v, %v", created, err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
		t.Fatal("second call changed the file")
	}
	os.Chmod(path, 0o644)
	if _, err := EnsureKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("0644 file: %v, want advice to chmod 600", err)
	}
}

func TestEnsureKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seal.keys")
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdCount := 0
	for range 8 {
		wg.Go(func() {
			created, err := EnsureKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			b, _ := os.ReadFile(path)
			if _, err := LoadRing(string(b), ""); err != nil {
				t.Errorf("a racer read an incomplete file: %v", err)
			}
			mu.Lock()
			if created {
				createdCount++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d processes created the file, want 1", createdCount)
	}
}

func FuzzOpen(f *testing.F) {
	r := testRing(f, "k1", testKey("k1", 1))
	_, ct, _ := r.Seal([]byte("seed"), aad)
	f.Add("k1", ct, aad)
	f.Add("k1", []byte{}, []byte{})
	f.Add("zz", ct, aad)
	f.Fuzz(func(t *testing.T, id string, ct, aad []byte) {
		r.Open(id, ct, aad) // must not panic
	})
}

func BenchmarkSeal(b *testing.B) {
	r := testRing(b, "k1", testKey("k1", 1))
	token := bytes.Repeat([]byte("t"), 1024)
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		r.Seal(token, aad)
	}
}
