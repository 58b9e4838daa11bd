package graphsim

import (
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// TokenFault makes the token endpoint fail for matching requests: an
// identity-platform error (invalid_grant AADSTS50173, say), an HTTP 5xx, or
// a delay. Empty match fields match anything.
type TokenFault struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId,omitempty"`
	User     string `json:"user,omitempty"`  // UPN of the signed-in or refreshing user
	Grant    string `json:"grant,omitempty"` // grant_type
	Status   int    `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	Code     int    `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	DelayMS  int    `json:"delayMs,omitempty"`
	Times    int    `json:"times,omitempty"` // how many requests it hits; 0: until removed
}

type faults struct {
	mu    sync.Mutex
	token []*TokenFault
}

func newFaults() *faults { return &faults{} }

func (f *faults) addToken(tf TokenFault) TokenFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tf.ID == "" {
		tf.ID = uuid.NewString()
	}
	f.token = append(f.token, &tf)
	return tf
}

func (f *faults) remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.token {
		if x.ID == id {
			f.token = append(f.token[:i], f.token[i+1:]...)
			return true
		}
	}
	return false
}

func (f *faults) list() []TokenFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]TokenFault, 0, len(f.token))
	for _, x := range f.token {
		out = append(out, *x)
	}
	return out
}

type faultHit struct {
	delay time.Duration
	err   *aadError
}

// tokenFault finds the first fault matching a token request; user is the
// UPN once known ("" before the grant is resolved: then faults that name
// a user are skipped, and matched again once it is).
func (f *faults) tokenFault(clientID, user, grant string) (faultHit, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.token {
		if (x.ClientID != "" && x.ClientID != clientID) || (x.Grant != "" && x.Grant != grant) {
			continue
		}
		if (x.User == "") != (user == "") || (x.User != "" && !strings.EqualFold(x.User, user)) {
			continue
		}
		if x.Times > 0 {
			x.Times--
			if x.Times == 0 {
				f.token = append(f.token[:i], f.token[i+1:]...)
			}
		}
		hit := faultHit{delay: time.Duration(x.DelayMS) * time.Millisecond}
		if x.Status != 0 || x.Error != "" {
			e := aadError{Status: x.Status, Err: x.Error, Code: x.Code, Message: x.Message}
			if e.Status == 0 {
				e.Status = 400
			}
			if e.Err == "" {
				e.Err = "temporarily_unavailable"
				if e.Status == 500 {
					e.Err = "server_error"
				}
			}
			if e.Code == 0 {
				e.Code = 50000
			}
			if e.Message == "" {
				e.Message = "There was an error issuing a token or an issue with our sign-in service."
			}
			hit.err = &e
		}
		return hit, true
	}
	return faultHit{}, false
}
