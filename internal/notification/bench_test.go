package notification

import (
	"testing"
)

// BenchmarkDecrypt: one rich presence item with a 2048-bit key, per core
// (RSA-OAEP unwrap dominates).
func BenchmarkDecrypt(b *testing.B) {
	cert, priv := selfSigned(b)
	keys := NewKeys(Key{ID: "k", Certificate: cert, Private: priv})
	ec, err := Encrypt(Key{ID: "k", Certificate: cert}, []byte(`{"@odata.type":"#microsoft.graph.presence","id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3","availability":"Busy","activity":"InACall","sequenceNumber":"C4D6F4A1B2"}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keys.Decrypt(&ec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
