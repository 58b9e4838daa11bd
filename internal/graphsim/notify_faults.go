package graphsim

import (
	"errors"

	"github.com/google/uuid"
)

// NotificationFault makes the notification side misbehave for one
// notificationUrl or one subscription (both empty: every delivery):
//   - LatencyMS: the endpoint is treated as answering that much later. The
//     POST still arrives, but past 3 s (10 s for retries) it counts as not
//     answered, is retried and counts towards the slow-endpoint rules, as
//     a slow receiver would (docs/graph.md#delivery-and-acknowledgement).
//   - Status: POSTs are not sent and count as answered with this status.
//   - Drop: the next Drop notifications are lost, never sent (as when
//     Microsoft drops them; docs/graph.md#lifecycle-notifications says gaps happen).
//   - FailValidation: validation handshakes fail as if the endpoint refused.
//   - Delay (with DelayMS): the next Delay notifications wait DelayMS by
//     the Sim's clock before they are sent, so later ones overtake them.
//   - Reorder: each of the next Reorder notifications is sent after the
//     one that follows it (or after a second, when none follows).
//   - Duplicate: the next Duplicate POSTs that are acknowledged are sent
//     once more, the same body again.
//
// Delay, Reorder and Duplicate are what a subscriber must expect of any
// delivery at least once (presence carries a sequenceNumber for that),
// made to happen on demand; by default graphsim sends in order, once.
//
// Times bounds how many POSTs Status and LatencyMS affect (0: until
// removed); a fault made only of counts (Drop, Delay, Reorder, Duplicate)
// ends when they are spent.
type NotificationFault struct {
	ID              string `json:"id"`
	NotificationURL string `json:"notificationUrl,omitempty"`
	SubscriptionID  string `json:"subscriptionId,omitempty"`
	LatencyMS       int    `json:"latencyMs,omitempty"`
	Status          int    `json:"status,omitempty"`
	Drop            int    `json:"drop,omitempty"`
	FailValidation  bool   `json:"failValidation,omitempty"`
	Times           int    `json:"times,omitempty"`
	Delay           int    `json:"delay,omitempty"`
	DelayMS         int    `json:"delayMs,omitempty"`
	Reorder         int    `json:"reorder,omitempty"`
	Duplicate       int    `json:"duplicate,omitempty"`
}

// AddNotificationFault installs a fault and returns it with its id.
func (s *Sim) AddNotificationFault(f NotificationFault) (NotificationFault, error) {
	switch {
	case f.LatencyMS < 0 || f.LatencyMS > 3_600_000:
		return f, errors.New("latencyMs must be 0–3600000")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return f, errors.New("status must be an HTTP status code")
	case f.Drop < 0 || f.Times < 0 || f.Delay < 0 || f.Reorder < 0 || f.Duplicate < 0:
		return f, errors.New("drop, times, delay, reorder and duplicate must not be negative")
	case (f.Delay > 0) != (f.DelayMS > 0) || f.DelayMS > 3_600_000:
		return f, errors.New("delay (how many notifications) and delayMs (1–3600000) go together")
	case f.spent():
		return f, errors.New("a fault needs latencyMs, status, drop, failValidation, delay, reorder or duplicate")
	}
	if f.SubscriptionID != "" {
		if _, err := uuid.Parse(f.SubscriptionID); err != nil {
			return f, errors.New("subscriptionId must be a GUID")
		}
	}
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	c := f
	n.faults = append(n.faults, &c)
	return f, nil
}

// RemoveNotificationFault removes a fault; it reports whether it existed.
func (s *Sim) RemoveNotificationFault(id string) bool {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.removeFaultLocked(id)
}

// NotificationFaults lists the faults in force.
func (s *Sim) NotificationFaults() []NotificationFault {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]NotificationFault, 0, len(n.faults))
	for _, f := range n.faults {
		out = append(out, *f)
	}
	return out
}

// spent reports whether the fault has nothing left to do.
func (f *NotificationFault) spent() bool {
	return f.LatencyMS == 0 && f.Status == 0 && f.Drop == 0 && !f.FailValidation && f.Delay == 0 && f.Reorder == 0 && f.Duplicate == 0
}

// spendLocked removes f once its counts are spent.
func (n *notifier) spendLocked(f *NotificationFault) {
	if f.spent() {
		n.removeFaultLocked(f.ID)
	}
}

func (n *notifier) removeFaultLocked(id string) bool {
	for i, f := range n.faults {
		if f.ID == id {
			n.faults = append(n.faults[:i], n.faults[i+1:]...)
			return true
		}
	}
	return false
}

func (n *notifier) faultFor(url, subID string, b *deliveryBatch, has func(*NotificationFault) bool) *NotificationFault {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.faultWithLocked(url, subID, b, has)
	if f == nil {
		return nil
	}
	c := *f
	return &c
}

// faultWithLocked finds the first fault matching url and the subscription
// subID (or, for a POST, any subscription in the batch) among the faults
// that do what has asks, so that one kind of fault does not hide another.
func (n *notifier) faultWithLocked(url, subID string, b *deliveryBatch, has func(*NotificationFault) bool) *NotificationFault {
	for _, f := range n.faults {
		if f.NotificationURL != "" && f.NotificationURL != url {
			continue
		}
		if f.SubscriptionID != "" && !matchesSub(f.SubscriptionID, subID, b) {
			continue
		}
		if has(f) {
			return f
		}
	}
	return nil
}

func matchesSub(want, subID string, b *deliveryBatch) bool {
	if subID != "" {
		return want == subID
	}
	if b != nil {
		for _, it := range b.items {
			if it.sub.id == want {
				return true
			}
		}
	}
	return false
}
