package notification

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
)

// The unwrap in use (crypto/rsa, or libcrypto with -tags openssl) opens
// exactly what RSA-OAEP SHA-1 wraps, and refuses anything else with one
// opaque error.
func TestUnwrapOpensOAEPSHA1AndNothingElse(t *testing.T) {
	t.Logf("unwrap: %s", Unwrapper)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for range 20 {
		key := make([]byte, 32)
		rand.Read(key)
		wrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &priv.PublicKey, key, nil)
		got, err := unwrap(priv, wrapped)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unwrap = %x, %v; want %x", got, err, key)
		}
	}
	key := make([]byte, 32)
	good, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &priv.PublicKey, key, nil)
	sha256Wrapped, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, key, nil)
	otherWrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &other.PublicKey, key, nil)
	flipped := bytes.Clone(good)
	flipped[100] ^= 1
	for name, in := range map[string][]byte{
		"empty": nil, "short": good[:100], "long": append(bytes.Clone(good), 0), "flipped bit": flipped,
		"another key": otherWrapped, "SHA-256 OAEP": sha256Wrapped, "PKCS#1 v1.5": mustPKCS1v15(t, &priv.PublicKey, key),
	} {
		if got, err := unwrap(priv, in); err == nil {
			t.Errorf("%s: opened to %x", name, got)
		}
		// A refusal leaves nothing behind: libcrypto's contexts are reused
		// from one item to the next, and the next good one still opens.
		if got, err := unwrap(priv, good); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("after %s: unwrap = %x, %v; want %x", name, got, err, key)
		}
	}
}

// Many goroutines unwrap with one key at once, as the processors do: each
// takes a context of its own, and every key comes out right.
func TestUnwrapWithOneKeyFromManyGoroutines(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for range 10 {
				key := make([]byte, 32)
				rand.Read(key)
				wrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &priv.PublicKey, key, nil)
				got, err := unwrap(priv, wrapped)
				if err != nil || !bytes.Equal(got, key) {
					errs <- fmt.Errorf("unwrap = %x, %v; want %x", got, err, key)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mustPKCS1v15(t *testing.T, pub *rsa.PublicKey, msg []byte) []byte {
	t.Helper()
	//lint:ignore SA1019 the test needs a PKCS#1 v1.5 ciphertext to show that unwrap refuses one
	b, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
