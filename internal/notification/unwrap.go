//go:build !(cgo && openssl)

package notification

import (
	"crypto/rsa"
	"crypto/sha1"
)

// unwrap opens a data key (RSA-OAEP with SHA-1 and MGF1-SHA-1) with Go's
// crypto/rsa. Built with cgo and the openssl tag, OpenSSL's libcrypto does
// it about four times faster (unwrap_openssl.go).
func unwrap(priv *rsa.PrivateKey, wrapped []byte) ([]byte, error) {
	return rsa.DecryptOAEP(sha1.New(), nil, priv, wrapped, nil)
}

// Unwrapper names the implementation in use (for logs and benchmarks).
const Unwrapper = "crypto/rsa"
