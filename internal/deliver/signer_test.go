package deliver

import (
	cryptorand "crypto/rand"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestTheSignerSignsTheStandardWebhooksExample(t *testing.T) {
	// The example every Standard Webhooks library checks itself against.
	s, err := newSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("sign = %q, want %q", got, want)
	}
}

func TestTheSignerSignsAsTheReferenceLibraryForAnySecretIDAndBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Several signers in turn, each signing many requests: a signature
	// must not carry anything of the one before it.
	var signers []*signer
	var refs []*standardwebhooks.Webhook
	for range 4 {
		secret, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		s, err := newSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		signers, refs = append(signers, s), append(refs, ref)
	}
	for i := range 400 {
		k := rng.IntN(len(signers))
		body := make([]byte, rng.IntN(3000)) // empty, shorter and longer than a hash block
		cryptorand.Read(body)
		id := uuid.Must(uuid.NewV7()).String()
		if i%7 == 0 {
			id = strings.Repeat("m", 80) // longer than the signer's buffer for id and timestamp
		}
		at := time.Unix(rng.Int64N(1<<40), 0)
		got := signers[k].sign(id, at.Unix(), body)
		want, err := refs[k].Sign(id, at, body)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("request %d (secret %d, %d-byte body): sign = %q, the library %q", i, k, len(body), got, want)
		}
	}
	if _, err := newSigner("whsec_not base64!"); err == nil {
		t.Error("a secret that is not base64 opened")
	}
}

// BenchmarkSigningAWebhook signs a 1 KiB body (a rich presence event is
// 0.8–1.2 KiB) with the signer and, for comparison, the reference library.
func BenchmarkSigningAWebhook(b *testing.B) {
	secret, err := NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	cryptorand.Read(body)
	id := uuid.Must(uuid.NewV7()).String()
	at := time.Now()
	b.Run("signer", func(b *testing.B) {
		s, err := newSigner(secret)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.sign(id, at.Unix(), body)
		}
	})
	b.Run("library", func(b *testing.B) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wh.Sign(id, at, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
