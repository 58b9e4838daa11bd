package onboarding

import (
	"context"
	"encoding/json"
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

func (h *handler) show(ctx context.Context, s shown) {
	b, _ := json.Marshal(s)
	h.sessions.Put(ctx, sessionShown, b)
}

// popShown takes what the last POST left to show, once.
func (h *handler) popShown(ctx context.Context) shown {
	var s shown
	if b := h.sessions.PopBytes(ctx, sessionShown); b != nil {
		json.Unmarshal(b, &s)
	}
	return s
}
