package notification

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Encrypt makes rich-notification content for key the way Graph does
// (docs/graph.md#rich-notifications): a fresh 32-byte key, AES-256-CBC with the key's first 16 bytes as
// IV and PKCS#7 padding, HMAC-SHA256 over the ciphertext, and the key
// wrapped with RSA-OAEP SHA-1. Tests and benchmarks use it to stand in for
// Graph.
func Encrypt(key Key, plain []byte) (EncryptedContent, error) {
	sym := make([]byte, 32)
	if _, err := rand.Read(sym); err != nil {
		return EncryptedContent{}, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(append(make([]byte, 0, len(plain)+pad), plain...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(sym)
	if err != nil {
		return EncryptedContent{}, err
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, sym[:aes.BlockSize]).CryptBlocks(ct, padded)
	mac := hmac.New(sha256.New, sym)
	mac.Write(ct)
	pub, ok := key.Certificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return EncryptedContent{}, fmt.Errorf("notification: certificate %q has no RSA key", key.ID)
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, sym, nil)
	if err != nil {
		return EncryptedContent{}, err
	}
	return EncryptedContent{
		Data:                            base64.StdEncoding.EncodeToString(ct),
		DataSignature:                   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		DataKey:                         base64.StdEncoding.EncodeToString(wrapped),
		EncryptionCertificateID:         key.ID,
		EncryptionCertificateThumbprint: key.Thumbprint(),
	}, nil
}
