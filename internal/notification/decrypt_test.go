package notification

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/pkcs12"
)

// Microsoft's own test vector (from msgraph-sdk-java-core and
// msgraph-sdk-dotnet-core): decrypting it proves we read Graph's format,
// not only our emulator's.
func TestDecryptMicrosoftsTestVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk-vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		EncryptedContent EncryptedContent `json:"encryptedContent"`
		PKCS12           string           `json:"pkcs12"`
		Password         string           `json:"password"`
		ExpectEtag       string           `json:"expectEtag"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	pfx, _ := base64.StdEncoding.DecodeString(v.PKCS12)
	priv, cert, err := pkcs12.Decode(pfx, v.Password)
	if err != nil {
		t.Fatalf("pkcs12: %v", err)
	}
	keys := NewKeys(Key{ID: "custom-id-for-testing", Certificate: cert, Private: priv.(*rsa.PrivateKey)})
	if got := (Key{Certificate: cert}).Thumbprint(); got != v.EncryptedContent.EncryptionCertificateThumbprint {
		t.Errorf("thumbprint = %s, want %s", got, v.EncryptedContent.EncryptionCertificateThumbprint)
	}
	plain, err := keys.Decrypt(&v.EncryptedContent)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	var msg struct {
		Etag string `json:"etag"`
		Body struct {
			Content string `json:"content"`
		} `json:"body"`
	}
	if err := json.Unmarshal(plain, &msg); err != nil {
		t.Fatalf("plaintext is not JSON: %v\n%s", err, plain)
	}
	if msg.Etag != v.ExpectEtag || !strings.Contains(msg.Body.Content, "Hello World") {
		t.Errorf("decrypted chatMessage etag %q body %q", msg.Etag, msg.Body.Content)
	}

	// Any change to the data, key or signature is refused before decrypting.
	for name, mutate := range map[string]func(*EncryptedContent){
		"data":      func(e *EncryptedContent) { e.Data = flip(e.Data) },
		"signature": func(e *EncryptedContent) { e.DataSignature = flip(e.DataSignature) },
		"data key":  func(e *EncryptedContent) { e.DataKey = flip(e.DataKey) },
	} {
		ec := v.EncryptedContent
		mutate(&ec)
		if _, err := keys.Decrypt(&ec); !errors.Is(err, ErrTampered) {
			t.Errorf("tampered %s: %v, want ErrTampered", name, err)
		}
	}
	ec := v.EncryptedContent
	ec.EncryptionCertificateID = "other"
	if _, err := keys.Decrypt(&ec); !errors.Is(err, ErrUnknownCertificate) {
		t.Errorf("unknown certificate id: %v", err)
	}
	ec = v.EncryptedContent
	ec.EncryptionCertificateThumbprint = strings.Repeat("0", 40)
	if _, err := keys.Decrypt(&ec); !errors.Is(err, ErrUnknownCertificate) {
		t.Errorf("wrong thumbprint: %v", err)
	}
	ec = v.EncryptedContent
	ec.Data = "%%%"
	if _, err := keys.Decrypt(&ec); !errors.Is(err, ErrMalformed) {
		t.Errorf("data not base64: %v", err)
	}
}

// flip changes one byte of base64 content, keeping it valid base64.
func flip(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	b[len(b)/2] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func selfSigned(t testing.TB) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	return selfSignedBits(t, 2048)
}

// selfSignedBits is selfSigned with a key of that many bits: the fuzzers
// use 1024, a private-key operation of a third of the time.
func selfSignedBits(t testing.TB, bits int) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	priv, _ := rsa.GenerateKey(rand.Reader, bits)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "presence-bridge"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, priv
}

func TestDecryptPresenceAndPadding(t *testing.T) {
	cert, priv := selfSigned(t)
	keys := NewKeys(Key{ID: "k2", Certificate: cert, Private: priv})
	for _, n := range []int{1, 15, 16, 17, 200} {
		plain := bytes.Repeat([]byte("x"), n)
		ec, err := Encrypt(Key{ID: "k2", Certificate: cert}, plain)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keys.Decrypt(&ec)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: %q %v", n, got, err)
		}
	}
	keys.Remove("k2")
	ec, _ := Encrypt(Key{ID: "k2", Certificate: cert}, []byte("{}"))
	if _, err := keys.Decrypt(&ec); !errors.Is(err, ErrUnknownCertificate) {
		t.Errorf("removed key: %v", err)
	}
}

func TestParse(t *testing.T) {
	body := `{"value":[{"subscriptionId":"s1","subscriptionExpirationDateTime":"2024-04-19T23:58:00.4569264","changeType":"updated",
	"clientState":"c","resource":"communications/presences?$filter=id+in+(%27u1%27)","tenantId":"t1",
	"resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/u1/presence","id":"u1"}},
	{"subscriptionId":"s2","subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z","lifecycleEvent":"reauthorizationRequired","tenantId":"t1","clientState":"c"}],
	"validationTokens":["a.b.c"]}`
	c, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Value) != 2 || c.Value[0].ResourceData.ID != "u1" || c.Value[1].LifecycleEvent != ReauthorizationRequired || len(c.ValidationTokens) != 1 {
		t.Fatalf("parsed %+v", c)
	}
	if want := time.Date(2024, 4, 19, 23, 58, 0, 456926400, time.UTC); !c.Value[0].SubscriptionExpiration.Equal(want) {
		t.Errorf("zone-less expiry = %v", c.Value[0].SubscriptionExpiration)
	}
	// Two values are not one collection: a Decoder read the first and
	// ignored the rest.
	twice := `{"value":[{"subscriptionId":"s","subscriptionExpirationDateTime":"2026-11-23T10:00:00Z"}]} {"value":[]}`
	for _, bad := range []string{``, `[]`, `{}`, `{"value":[{}]}`, `{"value":[{"subscriptionId":"s","subscriptionExpirationDateTime":"yesterday"}]}`, twice} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
