package graphsim

import (
	"net/http/httptest"
	"testing"
)

// A token is signed after the Sim's lock is released: what the grants
// issue under the lock is the claims, and the token endpoint signs them
// once it has let go. Signed under the lock, each RSA signature (about a
// millisecond) held up every other request and the notifier: a thousand
// tenants' app tokens asked for at once stalled graphsim's notifications
// for a second in the load run (issue 16).
func TestTokensAreIssuedUnderTheLockAndSignedAfterIt(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	s := f.sim
	s.mu.Lock()
	// The sim's time, as the token endpoint passes it: the fixture's
	// clock stands still, and a token issued at time.Now() once the second
	// had turned since the fixture began was not valid yet by it (a -race
	// run in CI, 2026-12-04).
	resp, e := s.clientCredentialsLocked(s.apps[f.seed.App.ClientID], s.tenants[ten.ID], "https://graph.microsoft.com/.default", f.clock())
	s.mu.Unlock()
	if e != nil {
		t.Fatalf("client credentials: %+v", *e)
	}
	if _, unsigned := resp["access_token"].(unsignedJWT); !unsigned {
		t.Fatalf("the grant signed its token under the lock: %T", resp["access_token"])
	}
	s.signPending(resp)
	raw, ok := resp["access_token"].(string)
	if !ok {
		t.Fatalf("after signPending the access token is a %T", resp["access_token"])
	}
	req := httptest.NewRequest("GET", "/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	if _, err := s.Authenticate(req); err != nil {
		t.Errorf("the signed token does not authenticate: %v", err)
	}
}
