package notification

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Decryption errors. ErrTampered means the signature did not match: the
// content was altered or not made with our key; nothing was decrypted.
var (
	ErrUnknownCertificate = errors.New("notification: no private key for this encryption certificate")
	ErrTampered           = errors.New("notification: dataSignature does not match the data")
	ErrMalformed          = errors.New("notification: encryptedContent is malformed")
)

// Key is one of our encryption certificates with its private key.
type Key struct {
	ID          string // encryptionCertificateId given to Graph
	Certificate *x509.Certificate
	Private     *rsa.PrivateKey
}

// Thumbprint is the certificate's SHA-1 thumbprint, upper-case hex, as
// Graph sends it in encryptionCertificateThumbprint.
func (k Key) Thumbprint() string {
	sum := sha1.Sum(k.Certificate.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Keys finds private keys by encryptionCertificateId. Old keys stay until
// no subscription uses them (rotation, docs/graph.md#rich-notifications).
type Keys struct {
	mu   sync.RWMutex
	byID map[string]Key
}

// NewKeys returns a key set.
func NewKeys(keys ...Key) *Keys {
	k := &Keys{byID: map[string]Key{}}
	for _, x := range keys {
		k.Add(x)
	}
	return k
}

// Add adds or replaces a key.
func (k *Keys) Add(key Key) {
	k.mu.Lock()
	k.byID[key.ID] = key
	k.mu.Unlock()
}

// Remove forgets a key.
func (k *Keys) Remove(id string) {
	k.mu.Lock()
	delete(k.byID, id)
	k.mu.Unlock()
}

func (k *Keys) get(id string) (Key, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	x, ok := k.byID[id]
	return x, ok
}

// Decrypt opens a rich notification's content (docs/graph.md#rich-notifications): pick the key by
// certificate id (and check the thumbprint when given), unwrap the
// symmetric key with RSA-OAEP SHA-1, verify HMAC-SHA256 over the
// ciphertext in constant time, and only then decrypt AES-CBC with the key's
// first 16 bytes as IV and strip the PKCS#7 padding.
func (k *Keys) Decrypt(ec *EncryptedContent) ([]byte, error) {
	if ec == nil {
		return nil, fmt.Errorf("%w: no encryptedContent", ErrMalformed)
	}
	key, ok := k.get(ec.EncryptionCertificateID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownCertificate, ec.EncryptionCertificateID)
	}
	if ec.EncryptionCertificateThumbprint != "" && key.Certificate != nil &&
		!strings.EqualFold(ec.EncryptionCertificateThumbprint, key.Thumbprint()) {
		return nil, fmt.Errorf("%w: thumbprint %s is not certificate %q's", ErrUnknownCertificate, ec.EncryptionCertificateThumbprint, ec.EncryptionCertificateID)
	}
	wrapped, err1 := base64.StdEncoding.DecodeString(ec.DataKey)
	data, err2 := base64.StdEncoding.DecodeString(ec.Data)
	sig, err3 := base64.StdEncoding.DecodeString(ec.DataSignature)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	sym, err := unwrap(key.Private, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: the data key does not open with our key", ErrTampered)
	}
	mac := hmac.New(sha256.New, sym)
	mac.Write(data)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return nil, ErrTampered
	}
	if len(sym) != 32 || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: key of %d bytes, data of %d", ErrMalformed, len(sym), len(data))
	}
	block, err := aes.NewCipher(sym)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, sym[:aes.BlockSize]).CryptBlocks(plain, data)
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize || n > len(plain) {
		return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
		}
	}
	return plain[:len(plain)-n], nil
}
