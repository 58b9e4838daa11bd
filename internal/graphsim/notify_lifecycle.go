package graphsim

import "time"

// Lifecycle of presence subscriptions (docs/graph.md#lifecycle-notifications): presence gets only
// reauthorizationRequired. It is sent to the lifecycleNotificationUrl when
// the subscription has 15 minutes or less to live (then every 15 minutes),
// and when the creator's access is lost — the admin revoked the app's
// consent, the user's sessions were revoked or the account disabled. Lost
// access also pauses change notifications until the client reauthorizes
// or renews; changes in the pause are lost. Expired subscriptions are
// deleted (docs/graph.md#subscription-operations).

// Microsoft's illustrative schedule: every 15 minutes in the last hour.
const reauthorizationInterval = 15 * time.Minute

// ReauthorizationRequired is the lifecycle event presence subscriptions get.
const ReauthorizationRequired = "reauthorizationRequired"

// checkLifecycle deletes expired subscriptions and returns the lifecycle
// notifications due at now.
func (n *notifier) checkLifecycle(now time.Time) []*deliveryItem {
	subs := n.subs.all()
	if len(subs) == 0 {
		return nil
	}
	// What the directory says about each creator, read before taking the
	// store's lock: the two locks are never held together.
	authorized := make([]time.Time, len(subs))
	n.subs.mu.RLock()
	for i, sub := range subs {
		authorized[i] = sub.authorized
	}
	n.subs.mu.RUnlock()
	lost := make([]bool, len(subs))
	n.s.mu.RLock()
	for i, sub := range subs {
		t := n.s.tenants[sub.tenantID]
		u := n.s.users[sub.creatorID]
		lost[i] = t == nil || t.grants[sub.appID] == nil || u == nil || !u.Enabled
		if u != nil && !lost[i] {
			lost[i] = !u.RevokedAt.IsZero() && u.RevokedAt.After(authorized[i])
		}
	}
	n.s.mu.RUnlock()

	st := n.subs
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*deliveryItem
	for i, sub := range subs {
		if sub.deleted {
			continue
		}
		if !now.Before(sub.expiration) {
			st.removeLocked(sub)
			st.lapsed++
			continue
		}
		due := sub.lastReauth.IsZero() || now.Sub(sub.lastReauth) >= reauthorizationInterval
		send := false
		switch {
		case lost[i] && !sub.paused:
			sub.paused = true
			sub.refreshLocked()
			send = true
		case lost[i], sub.expiration.Sub(now) <= reauthorizationInterval:
			send = due
		}
		if send {
			sub.lastReauth = now
			if sub.lifecycleURL != "" {
				out = append(out, lifecycleItem(sub, ReauthorizationRequired))
			}
		}
	}
	return out
}
