package loadbench

import (
	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
)

// Layout spreads users over tenants as issue 16's million does: 54 % of
// the tenants large, filling two monitors' subscriptions, the rest of one
// subscription each (onboarding.UsersPerMonitor users); at 1,000 tenants
// and 1,000,000 users that is 540 tenants of 1,298–1,299 users and 460 of
// 650, over 1,540 subscriptions' worth of users. Every tenant gets the
// monitor accounts onboarding asks for (onboarding.MonitorsNeeded: its
// users' monitors and a spare). With too few users for the small tenants'
// share, every tenant gets an equal part.
func Layout(tenants, users int) []graphsim.TenantSize {
	if tenants <= 0 || users < tenants {
		return nil
	}
	large := tenants * 540 / 1000
	small := tenants - large
	per := onboarding.UsersPerMonitor
	if large == 0 || users-small*per < large*per {
		large, small, per = tenants, 0, 0
	}
	rest := users - small*per
	sizes := make([]graphsim.TenantSize, 0, tenants)
	for i := range large {
		n := rest / large
		if i < rest%large {
			n++
		}
		sizes = append(sizes, graphsim.TenantSize{Users: n, Monitors: onboarding.MonitorsNeeded(n)})
	}
	for range small {
		sizes = append(sizes, graphsim.TenantSize{Users: per, Monitors: onboarding.MonitorsNeeded(per)})
	}
	return sizes
}

// Subscriptions is how many subscriptions the layout's users fill at
// onboarding.UsersPerMonitor each: the fewest Graph allows.
func Subscriptions(sizes []graphsim.TenantSize) int {
	n := 0
	for _, s := range sizes {
		n += (s.Users + onboarding.UsersPerMonitor - 1) / onboarding.UsersPerMonitor
	}
	return n
}
