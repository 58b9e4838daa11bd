package notification

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
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

// BenchmarkParse: an inbox row as the processor reads it — a POST of 50
// rich items with 2048-bit wrapped keys, from 10 tenants (a token each,
// of a real token's size).
func BenchmarkParse(b *testing.B) {
	cert, _ := selfSigned(b)
	var body []byte
	body = append(body, `{"value":[`...)
	for i := range 50 {
		ec, err := Encrypt(Key{ID: "k", Certificate: cert}, []byte(`{"@odata.type":"#microsoft.graph.presence","id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3","availability":"Busy","activity":"InACall","sequenceNumber":"C4D6F4A1B2"}`))
		if err != nil {
			b.Fatal(err)
		}
		n := Notification{SubscriptionID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", ChangeType: "updated", ClientState: "secretClientValue",
			Resource:     "communications/presences?$filter=id+in+(%27fa8bf3dc-eca7-46b7-bad1-db199b62afc3%27)",
			ResourceData: &ResourceData{ODataType: "#Microsoft.Graph.presence", ODataID: "users/fa8bf3dc-eca7-46b7-bad1-db199b62afc3/presence", ID: "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"},
			TenantID:     "72f988bf-86f1-41af-91ab-2d7cd011db47", EncryptedContent: &ec}
		item, err := json.Marshal(n)
		if err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, item...)
	}
	body = append(body, `],"validationTokens":[`...)
	for i := range 10 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, '"')
		body = append(body, strings.Repeat("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9", 34)...)
		body = append(body, '"')
	}
	body = append(body, "]}"...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	// CPU time beside wall time: on the shared two cores the wall time of
	// the same code varied tenfold with the load average; the process's
	// CPU (the collector's included) much less.
	before := cpuTime()
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
