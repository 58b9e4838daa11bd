package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func b64(b byte, n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n))
}

func rawB64(b byte, n int) string {
	return base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n))
}

func TestParseKeysAcceptsBothBase64FormsCommentsAndCommas(t *testing.T) {
	text := "# seal keys\r\n\n" +
		"k1:" + b64(1, 32) + "\r\n" +
		"  # an indented comment, with a comma\n" +
		" k2 : " + rawB64(2, 32) + " ,k3:" + b64(3, 32) + ",\n" +
		"\n"
	keys, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, k := range keys {
		ids = append(ids, k.ID)
		if want := bytes.Repeat([]byte{byte(i + 1)}, 32); !bytes.Equal(k.secret()[:], want) {
			t.Errorf("key %s has the wrong secret", k.ID)
		}
	}
	if got := strings.Join(ids, ","); got != "k1,k2,k3" {
		t.Fatalf("ids %s, want k1,k2,k3 in order", got)
	}
}

func TestParseKeysReadsWhatFormatKeyWrites(t *testing.T) {
	k, err := GenerateKey("2026-01_a")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeys(FormatKey(k))
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || *keys[0].secret() != *k.secret() {
		t.Fatalf("ParseKeys(FormatKey(k)) = %v, %v", keys, err)
	}
}

func TestParseKeysRejectsBadEntriesWithoutRevealingKeyMaterial(t *testing.T) {
	good := "k1:" + b64(1, 32)
	for _, tc := range []struct {
		name     string
		text     string
		want     string
		material string // must not appear in the error
	}{
		{"nothing", "", "no keys found", ""},
		{"comments only", "# k1:" + b64(9, 32) + "\n", "no keys found", b64(9, 32)},
		{"no colon", good + "\n" + b64(9, 32), "key 2: not in the form id:base64", b64(9, 32)},
		{"id missing", ":" + b64(9, 32), "key 1: bad id", b64(9, 32)},
		{"id with a space", "k 1:" + b64(9, 32), "key 1: bad id", b64(9, 32)},
		{"id too long", strings.Repeat("k", 33) + ":" + b64(9, 32), "key 1: bad id", b64(9, 32)},
		{"key pasted before the id", b64(9, 32) + ":k1", "key 1: bad id", b64(9, 32)[:24]},
		{"not base64", good + "," + "k2:" + b64(9, 32)[:40] + "!!!", `key 2: id "k2": the key is not valid base64`, b64(9, 32)[:40]},
		{"URL-safe base64", "k1:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), `key 1: id "k1": the key is not valid base64`, base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))},
		{"16 bytes", "k1:" + b64(9, 16), `key 1: id "k1": the key is 16 bytes, want 32`, b64(9, 16)},
		{"33 bytes", "k1:" + rawB64(9, 33), `key 1: id "k1": the key is 33 bytes, want 32`, rawB64(9, 33)},
		{"empty key", "k1:", `key 1: id "k1": the key is 0 bytes`, ""},
		{"duplicate id", good + "\nk2:" + b64(2, 32) + ",k1:" + b64(9, 32), `key 3: id "k1" is listed twice (also key 1)`, b64(9, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeys(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseKeys: %v, want an error containing %q", err, tc.want)
			}
			for _, m := range []string{tc.material, b64(1, 32), b64(1, 32)[:12]} {
				if m != "" && strings.Contains(err.Error(), m) {
					t.Fatalf("error %q reveals key material %q", err, m)
				}
			}
		})
	}
}

func TestLoadRingActivatesTheLastKeyUnlessTold(t *testing.T) {
	text := "k1:" + b64(1, 32) + "\nk2:" + b64(2, 32) + "\n"
	for _, tc := range []struct{ active, want string }{{"", "k2"}, {"k1", "k1"}, {"k2", "k2"}} {
		r, err := LoadRing(text, tc.active)
		if err != nil || r.ActiveID() != tc.want || !r.Has("k1") || !r.Has("k2") {
			t.Errorf("LoadRing(active %q): %v; want active %s with k1 and k2", tc.active, err, tc.want)
		}
	}
	if _, err := LoadRing(text, "k3"); err == nil || !strings.Contains(err.Error(), `"k3"`) {
		t.Errorf("LoadRing with an absent active id: %v", err)
	}
}

func TestGenerateKeyMakesDistinctKeysAndChecksTheID(t *testing.T) {
	a, err1 := GenerateKey("a")
	b, err2 := GenerateKey("a")
	if err1 != nil || err2 != nil || *a.secret() == *b.secret() || *a.secret() == [32]byte{} {
		t.Fatalf("two generated keys: %v %v, equal or zero", err1, err2)
	}
	for _, id := range []string{"", "a:b", "ü", strings.Repeat("x", 33)} {
		if _, err := GenerateKey(id); err == nil {
			t.Errorf("GenerateKey(%q) accepted a bad id", id)
		}
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k := testKey("k1", 0xab)
	type holder struct {
		Pub  Key
		priv Key   // fmt cannot call methods on unexported fields
		keys []Key // nor inside them
	}
	h := holder{Pub: k, priv: k, keys: []Key{k}}

	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q", "%t"} {
		fmt.Fprintf(&out, verb+"\n", k)
		fmt.Fprintf(&out, verb+"\n", []Key{k})
		fmt.Fprintf(&out, verb+"\n", &k)
		fmt.Fprintf(&out, verb+"\n", h)
	}
	for _, handler := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		slog.New(handler).Info("keys", "key", k, "keys", []Key{k}, "holder", h)
	}
	j, _ := json.Marshal(h)
	out.Write(j)

	s := strings.ToLower(out.String())
	for _, secret := range []string{
		"abababab",    // %x of the bytes
		"171 171 171", // %v of the bytes
		strings.ToLower(b64(0xab, 32)[:8]),
	} {
		if strings.Contains(s, secret) {
			t.Fatalf("key material %q printed in:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "seal.Key(k1)") {
		t.Fatalf("the key id is not shown:\n%s", out.String())
	}
}

func TestFormatKeyWritesIDColonBase64(t *testing.T) {
	if got, want := FormatKey(testKey("k1", 1)), "k1:"+b64(1, 32); got != want {
		t.Fatalf("FormatKey = %q, want %q", got, want)
	}
}
