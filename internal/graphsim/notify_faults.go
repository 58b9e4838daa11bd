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
//
// Times bounds how many POSTs Status and LatencyMS affect (0: until
// removed); a Drop-only fault ends when its count is spent.
type NotificationFault struct {
	ID              string `json:"id"`
	NotificationURL string `json:"notificationUrl,omitempty"`
	SubscriptionID  string `json:"subscriptionId,omitempty"`
	LatencyMS       int    `json:"latencyMs,omitempty"`
	Status          int    `json:"status,omitempty"`
	Drop            int    `json:"drop,omitempty"`
	FailValidation  bool   `json:"failValidation,omitempty"`
	Times           int    `json:"times,omitempty"`
}

// AddNotificationFault installs a fault and returns it with its id.
func (s *Sim) AddNotificationFault(f NotificationFault) (NotificationFault, error) {
	switch {
	case f.LatencyMS < 0 || f.LatencyMS > 3_600_000:
		return f, errors.New("latencyMs must be 0–3600000")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return f, errors.New("status must be an HTTP status code")
	case f.Drop < 0 || f.Times < 0:
		return f, errors.New("drop and times must not be negative")
	case f.LatencyMS == 0 && f.Status == 0 && f.Drop == 0 && !f.FailValidation:
		return f, errors.New("a fault needs latencyMs, status, drop or failValidation")
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

func (n *notifier) removeFaultLocked(id string) bool {
	for i, f := range n.faults {
		if f.ID == id {
			n.faults = append(n.faults[:i], n.faults[i+1:]...)
			return true
		}
	}
	return false
}

func (n *notifier) faultFor(url, subID string, b *deliveryBatch) *NotificationFault {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.faultForLocked(url, subID, b)
	if f == nil {
		return nil
	}
	c := *f
	return &c
}

// faultForLocked finds the first fault matching url and the subscription
// subID or, for a POST, any subscription in the batch.
func (n *notifier) faultForLocked(url, subID string, b *deliveryBatch) *NotificationFault {
	for _, f := range n.faults {
		if f.NotificationURL != "" && f.NotificationURL != url {
			continue
		}
		if f.SubscriptionID != "" && !matchesSub(f.SubscriptionID, subID, b) {
			continue
		}
		return f
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
