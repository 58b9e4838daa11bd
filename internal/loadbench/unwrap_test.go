package loadbench

import (
	"testing"
	"time"
)

// The rate is the product's own decryption's, timed: a 2,048-bit unwrap
// takes 0.25–1 ms on the hosts seen (more under -race), 1,000–4,000 a
// second; a rate outside 10–20,000 is not an RSA-2048 unwrap's.
func TestTheUnwrapRateIsThatOfTheProductsDecryption(t *testing.T) {
	rate, err := UnwrapRate(100 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 10 || rate > 20_000 {
		t.Errorf("one core decrypts %.0f notifications a second: not an RSA-2048 unwrap's rate", rate)
	}
}
