package loadbench

import (
	"testing"
	"time"
)

// The rate is the product's own decryption's, timed: a 2,048-bit unwrap
// takes 0.25–1 ms on the hosts seen (more under -race), so a tenth of a
// second holds tens of them, never thousands.
func TestTheUnwrapRateIsThatOfTheProductsDecryption(t *testing.T) {
	rate, err := UnwrapRate(100 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 10 || rate > 20_000 {
		t.Errorf("one core decrypts %.0f notifications a second: not an RSA-2048 unwrap's rate", rate)
	}
}
