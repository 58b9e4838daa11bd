package onboarding

import (
	"context"

	"github.com/google/uuid"
)

// Monitoring is what Presence Bridge does for a completed tenant's users
// now, as the store records it; the summary says this rather than what
// will happen once the engine has looked the users up and subscribed.
type Monitoring struct {
	// Users are those a monitor's active subscription at Microsoft
	// covers: their presence changes reach Presence Bridge.
	Users int
	// Subscriptions are the monitors' active subscriptions.
	Subscriptions int
}

// Monitoring reads the tenant's monitoring from its monitors'
// subscriptions and the users each covers (tenantview.Monitors).
func (s *Service) Monitoring(ctx context.Context, tenantID uuid.UUID) (Monitoring, error) {
	ms, err := s.views.Monitors(ctx, tenantID, UsersPerMonitor)
	if err != nil {
		return Monitoring{}, err
	}
	var m Monitoring
	for _, x := range ms.Items {
		if x.HasSubscription && x.Subscription.Active {
			m.Subscriptions++
			m.Users += x.Users
		}
	}
	return m, nil
}
