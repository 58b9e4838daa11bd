package mail

import (
	"context"
	"fmt"

	"presencebridge/internal/store"
)

// CaptureFrom is the sender captured mail shows when none is configured.
const CaptureFrom = "Presence Bridge <alerts@presencebridge.invalid>"

// Capture keeps mail in the database instead of sending it: development's
// outbox, read at `presencebridge dev`'s mail page. In the database rather
// than in memory so that the page of any instance shows what every
// instance sent, and a test can read it like a mailbox.
type Capture struct {
	st   *store.Store
	from string
}

// NewCapture keeps mail in st, as sent by from (CaptureFrom when empty).
func NewCapture(st *store.Store, from string) *Capture {
	if from == "" {
		from = CaptureFrom
	}
	return &Capture{st: st, from: from}
}

// Send keeps m.
func (c *Capture) Send(ctx context.Context, m Message) error {
	err := c.st.CaptureMail(ctx, store.CapturedMail{From: c.from, To: m.To, Subject: m.Subject, Body: m.Text})
	if err != nil {
		return fmt.Errorf("capture mail %q: %w", m.Subject, err)
	}
	return nil
}
