package loadbench

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"presencebridge/internal/notification"
)

// UnwrapRate is how many rich notifications one core of this machine
// decrypts a second, through the product's own notification.Keys (the
// RSA-OAEP unwrap of a 2048-bit key, then AES and the HMAC), for about d.
// The unwrap is most of processing's CPU and what bounds the phases'
// rates (docs/scale-out.md, "What saturates first"), and it is what moves
// most between the hosts a run may land on: 3,160–3,390 a second per core
// on the host of 2026-12-03 (AVX-512), 992–1,212 on the host of
// 2026-12-04 (AVX2 only), with the code unchanged. A report states it beside the
// machine so that its figures can be set against the machine's ceiling.
// Built with the openssl tag (as make bench-load builds), it measures
// libcrypto's unwrap, as the product's build uses.
func UnwrapRate(d time.Duration) (float64, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-load"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return 0, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return 0, err
	}
	key := notification.Key{ID: "bench-load", Certificate: cert, Private: priv}
	ec, err := notification.Encrypt(key, []byte(`{"@odata.type":"#microsoft.graph.presence","id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3","availability":"Busy","activity":"InACall","sequenceNumber":"C4D6F4A1B2"}`))
	if err != nil {
		return 0, err
	}
	keys := notification.NewKeys(key)
	n, began := 0, time.Now()
	for n == 0 || time.Since(began) < d {
		if _, err := keys.Decrypt(&ec); err != nil {
			return 0, fmt.Errorf("decrypt: %w", err)
		}
		n++
	}
	return float64(n) / time.Since(began).Seconds(), nil
}
