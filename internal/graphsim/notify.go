package graphsim

import "context"

// notifier delivers change and lifecycle notifications.
type notifier struct{ s *Sim }

func newNotifier(s *Sim) *notifier { return &notifier{s: s} }

// presenceChanged is called, under the presence lock, for every change of
// a user's aggregated presence; it must not block.
func (n *notifier) presenceChanged(c PresenceChange) {}

// run delivers notifications until ctx ends.
func (n *notifier) run(ctx context.Context) {}
