package onboarding

import (
	"context"
	"encoding/json"
	"net/http"
)

const sessionShown = "shown"

// shown is what a POST made to be shown once, carried in the session
// across its redirect (303) to the page that shows it: a reload of that
// page neither sends the form again nor shows it again. It holds a secret
// only between the POST and the next page view.
type shown struct {
	// Monitor and Link: a Copy URL just made, and its expiry in words.
	Monitor string `json:"m,omitempty"`
	Link    string `json:"l,omitempty"`
	Expires string `json:"x,omitempty"`
	// Webhook and Secret: a signing secret just revealed.
	Webhook string `json:"w,omitempty"`
	Secret  string `json:"s,omitempty"`
	// APIKey: a key just created.
	APIKey string `json:"k,omitempty"`
}

// showThenRedirect keeps s, sealed in the session (web.Sessions.PutSealed:
// the sessions table never holds the secret in clear), and sends the
// browser to the page that shows it.
func (h *handler) showThenRedirect(w http.ResponseWriter, r *http.Request, s shown, to string) {
	b, _ := json.Marshal(s)
	if err := h.sessions.PutSealed(r.Context(), sessionShown, b); err != nil {
		h.fail(w, r, "keep what to show once", err)
		return
	}
	redirect(w, r, to)
}

// popShown takes what the last POST left to show, once; what will not
// open (its seal key retired in between) is logged and not shown.
func (h *handler) popShown(ctx context.Context) shown {
	var s shown
	b, err := h.sessions.PopSealed(ctx, sessionShown)
	if err != nil {
		h.logger.WarnContext(ctx, "onboarding: what a POST left to show is lost", "err", err)
	}
	if b != nil {
		json.Unmarshal(b, &s)
	}
	return s
}
