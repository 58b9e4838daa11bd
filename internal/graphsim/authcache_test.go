package graphsim

import (
	"net/http"
	"testing"
	"time"
)

func TestARememberedAccessTokenStillExpiresAndDiesWithItsSigningKey(t *testing.T) {
	f := newFixture(t)
	raw := f.appToken(f.tenant())
	auth := func() (*Principal, error) {
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		return f.sim.Authenticate(req)
	}
	first, err := auth()
	if err != nil {
		t.Fatal(err)
	}
	again, err := auth()
	if err != nil || again == first || again.TenantID != first.TenantID || again.AppID != first.AppID || len(again.Roles) != len(first.Roles) {
		t.Fatalf("the token again: %+v, %v (first %+v)", again, err, first)
	}
	if _, ok := f.sim.authenticated.get(raw, f.sim.signer, f.clock()); !ok {
		t.Fatal("a verified token was not remembered")
	}
	// Another signing key (a snapshot restored with its own): not on the
	// word of the old one.
	if _, ok := f.sim.authenticated.get(raw, &signer{}, f.clock()); ok {
		t.Fatal("a token remembered under another signing key")
	}
	// Graph's app tokens live an hour or so: past its expiry by the sim's
	// clock it is refused, remembered or not.
	f.advance(25 * time.Hour)
	if p, err := auth(); err == nil {
		t.Fatalf("an expired token authenticated: %+v", p)
	}
}
