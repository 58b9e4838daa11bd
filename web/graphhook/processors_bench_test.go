package graphhook

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"presencebridge/internal/intake"
)

// busyProcessors keeps every core busy as serve's processors do under
// overload: GOMAXPROCS processors, each unwrapping on GOMAXPROCS
// goroutines an RSA-OAEP key after another (the processor's work, with
// its Gosched after each), waiting on prio (optional) before each as the
// processor does. It stops when the benchmark iteration's caller calls
// the returned function, which gives the unwraps done.
func busyProcessors(b *testing.B, prio *intake.Priority) (stop func() int64) {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, make([]byte, 32), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				prio.Yield(ctx)
				if _, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
				runtime.Gosched()
			}
		})
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return n.Load()
	}
}
