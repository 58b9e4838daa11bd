package graphsim

import (
	"net/http"
	"strings"
	"sync"
)

// tokenStats counts token-endpoint requests, so tests can assert that the
// product calls the identity platform only as often as it must (50
// concurrent users of one monitor's token: one refresh).
type tokenStats struct {
	mu     sync.Mutex
	calls  map[[2]string]int // (client id, grant type)
	byUser map[[3]string]int // (client id, grant type, lower-case UPN)
}

func newTokenStats() *tokenStats {
	return &tokenStats{calls: map[[2]string]int{}, byUser: map[[3]string]int{}}
}

func (t *tokenStats) request(clientID, grant string) {
	t.mu.Lock()
	t.calls[[2]string{clientID, grant}]++
	t.mu.Unlock()
}

func (t *tokenStats) user(clientID, grant, upn string) {
	t.mu.Lock()
	t.byUser[[3]string{clientID, grant, strings.ToLower(upn)}]++
	t.mu.Unlock()
}

// TokenCalls filters token-endpoint requests; empty fields match anything.
type TokenCalls struct {
	ClientID string `json:"clientId,omitempty"`
	Grant    string `json:"grant,omitempty"`
	User     string `json:"user,omitempty"` // UPN; counts only requests whose user was identified
}

// CountTokenCalls counts the token requests matching f so far.
func (s *Sim) CountTokenCalls(f TokenCalls) int {
	t := s.tokenStats
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	if f.User == "" {
		for k, v := range t.calls {
			if (f.ClientID == "" || k[0] == f.ClientID) && (f.Grant == "" || k[1] == f.Grant) {
				n += v
			}
		}
		return n
	}
	for k, v := range t.byUser {
		if (f.ClientID == "" || k[0] == f.ClientID) && (f.Grant == "" || k[1] == f.Grant) && k[2] == strings.ToLower(f.User) {
			n += v
		}
	}
	return n
}

// ctlTokenCalls answers GET /_sim/token-calls?clientId=&grant=&user=.
func (s *Sim) ctlTokenCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := TokenCalls{ClientID: q.Get("clientId"), Grant: q.Get("grant"), User: q.Get("user")}
	writeJSON(w, http.StatusOK, map[string]any{"filter": f, "count": s.CountTokenCalls(f)})
}
