package loadbench

import (
	"fmt"
	"time"

	"presencebridge/internal/certs"
	"presencebridge/internal/notification"
)

// UnwrapRate is how many rich notifications one core of this machine
// decrypts a second, with a key made as the product makes its own
// (certs.NewKey) and through its notification.Keys (the RSA-OAEP unwrap of
// a 2048-bit key, then AES and the HMAC), for about d. The unwrap is most
// of processing's CPU and what bounds the phases' rates (docs/scale-out.md,
// "What saturates first"), and it is what moves most between the hosts a
// run may land on: 3,160–3,390 a second per core on the host of 2026-12-03
// (AVX-512), 992–1,212 on the host of 2026-12-04 (AVX2 only), with the
// code unchanged. A report states it beside the machine so that its
// figures can be set against the machine's ceiling. Built with the openssl
// tag (as make bench-load builds), it measures libcrypto's unwrap, as the
// product's build uses.
func UnwrapRate(d time.Duration) (float64, error) {
	key, err := certs.NewKey(time.Now())
	if err != nil {
		return 0, err
	}
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
