package graphhook

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"presencebridge/internal/testkit"
)

// BenchmarkTheDoorOfAPostOf50RichItems: the receiver's CPU for one POST of
// BenchmarkIntakeThroughput's 50 rich-sized items — read, parse, check and
// the inbox row built — without the database (in-memory subscriptions and
// inbox, as the fuzz tests'), beside what the reference receiver
// (bench/reference-receiver) does with the same body: parse it once and
// compare each clientState.
func BenchmarkTheDoorOfAPostOf50RichItems(b *testing.B) {
	body := batchBody(50)
	b.Run("receiver", func(b *testing.B) {
		h, inbox := fuzzReceiver()
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graph/notifications", bytes.NewReader(body)))
			if rec.Code != http.StatusAccepted {
				b.Fatalf("answered %d", rec.Code)
			}
			inbox.take()
		}
	})
	b.Run("reference", func(b *testing.B) {
		type notification struct {
			SubscriptionID string          `json:"subscriptionId"`
			ClientState    string          `json:"clientState"`
			ChangeType     string          `json:"changeType"`
			TenantID       string          `json:"tenantId"`
			Resource       string          `json:"resource"`
			ResourceData   json.RawMessage `json:"resourceData"`
		}
		expected := []byte("state-1")
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			var c struct {
				Value []notification `json:"value"`
			}
			if err := json.Unmarshal(body, &c); err != nil {
				b.Fatal(err)
			}
			for _, n := range c.Value {
				if subtle.ConstantTimeCompare([]byte(n.ClientState), expected) != 1 {
					b.Fatal("clientState")
				}
			}
		}
	})
}

// reportCPU reports the process's CPU time per operation (cpu-ns/op) when
// the function it returns is called: on a machine shared with others,
// ns/op is wall time stretched by their load, CPU time much less so.
func reportCPU(b *testing.B) func() {
	start := testkit.ProcessCPU()
	return func() { b.ReportMetric(float64(testkit.ProcessCPU()-start)/float64(b.N), "cpu-ns/op") }
}
