//go:build cgo && openssl

package notification

// The RSA unwrap of every rich notification's data key dominates the cost
// of intake: Go's constant-time crypto/rsa takes ~1.06 ms per 2048-bit
// private-key operation on our machines, OpenSSL's libcrypto ~0.27 ms
// (`openssl speed rsa2048`), with blinding and constant-time arithmetic of
// its own. No maintained Go binding to libcrypto is served by our module
// proxy (golang-fips/openssl and microsoft/go-crypto-openssl answer 403),
// so this is the one operation bound by hand: EVP_PKEY_decrypt with
// RSA-OAEP, SHA-1 and MGF1-SHA-1, as Graph wraps the keys.

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/x509.h>

static EVP_PKEY *pb_load_key(const unsigned char *der, long len) {
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	ERR_clear_error();
	return k;
}

// pb_oaep_ctx makes a decryption context for key, set up once for
// RSA-OAEP with SHA-1 and MGF1-SHA-1: OpenSSL 3 fetches the algorithm and
// digests from its providers on every set-up, a cost that would otherwise
// come with every item.
static EVP_PKEY_CTX *pb_oaep_ctx(EVP_PKEY *key) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	if (ctx == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (EVP_PKEY_decrypt_init(ctx) <= 0
		|| EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0
		|| EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0
		|| EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}
static int pb_oaep_decrypt(EVP_PKEY_CTX *ctx, const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen) {
	int ok = EVP_PKEY_decrypt(ctx, out, outlen, in, inlen) > 0;
	ERR_clear_error();
	return ok;
}
static void pb_free_ctx(EVP_PKEY_CTX *ctx) { EVP_PKEY_CTX_free(ctx); }
static void pb_free_key(EVP_PKEY *k) { EVP_PKEY_free(k); }
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// Unwrapper names the implementation in use (for logs and benchmarks).
const Unwrapper = "openssl"

// evpKey is a private key's libcrypto copy and its idle decryption
// contexts: a context serves one goroutine at a time, so each unwrap takes
// one (or makes one) and puts it back; at most idleContexts are kept.
type evpKey struct {
	p    *C.EVP_PKEY
	idle chan *C.EVP_PKEY_CTX
}

const idleContexts = 16

func (k *evpKey) take() *C.EVP_PKEY_CTX {
	select {
	case c := <-k.idle:
		return c
	default:
		return C.pb_oaep_ctx(k.p)
	}
}

func (k *evpKey) give(c *C.EVP_PKEY_CTX) {
	select {
	case k.idle <- c:
	default:
		C.pb_free_ctx(c)
	}
}

// free releases the key and its idle contexts; nothing may use k after.
func (k *evpKey) free() {
	for {
		select {
		case c := <-k.idle:
			C.pb_free_ctx(c)
		default:
			C.pb_free_key(k.p)
			return
		}
	}
}

// evpKeys holds each private key's libcrypto copy, made once, and freed
// (and forgotten) when the Go key is collected: the map holds the key
// weakly.
var evpKeys sync.Map // weak.Pointer[rsa.PrivateKey] → *evpKey

var errDecryption = errors.New("notification: decryption error")

func evpFor(priv *rsa.PrivateKey) (*evpKey, error) {
	wp := weak.Make(priv)
	if k, ok := evpKeys.Load(wp); ok {
		return k.(*evpKey), nil
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	p := C.pb_load_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)))
	clear(der)
	if p == nil {
		return nil, errors.New("notification: libcrypto refused the private key")
	}
	k := &evpKey{p: p, idle: make(chan *C.EVP_PKEY_CTX, idleContexts)}
	if prev, loaded := evpKeys.LoadOrStore(wp, k); loaded {
		k.free()
		return prev.(*evpKey), nil
	}
	runtime.AddCleanup(priv, func(wp weak.Pointer[rsa.PrivateKey]) {
		if k, ok := evpKeys.LoadAndDelete(wp); ok {
			k.(*evpKey).free()
		}
	}, wp)
	return k, nil
}

// unwrap opens a data key (RSA-OAEP with SHA-1 and MGF1-SHA-1) with
// OpenSSL's libcrypto. Any failure is the one opaque error, as crypto/rsa
// gives, so nothing tells a padding failure from another.
func unwrap(priv *rsa.PrivateKey, wrapped []byte) ([]byte, error) {
	k, err := evpFor(priv)
	if err != nil {
		return nil, err
	}
	if len(wrapped) == 0 {
		return nil, errDecryption
	}
	c := k.take()
	if c == nil {
		return nil, errors.New("notification: libcrypto could not set up RSA-OAEP")
	}
	out := make([]byte, priv.Size())
	n := C.size_t(len(out))
	ok := C.pb_oaep_decrypt(c, (*C.uchar)(unsafe.Pointer(&wrapped[0])), C.size_t(len(wrapped)), (*C.uchar)(unsafe.Pointer(&out[0])), &n)
	k.give(c)
	runtime.KeepAlive(priv)
	if ok != 1 {
		return nil, errDecryption
	}
	return out[:n], nil
}
