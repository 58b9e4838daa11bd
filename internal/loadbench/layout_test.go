package loadbench

import "testing"

func TestTheMillionIs540TenantsOfTwoSubscriptionsAnd460OfOne(t *testing.T) {
	sizes := Layout(1000, 1_000_000)
	users, large, small, monitors := 0, 0, 0, 0
	for _, s := range sizes {
		users += s.Users
		monitors += s.Monitors
		switch {
		case s.Users == 650:
			small++
		case s.Users == 1298 || s.Users == 1299:
			large++
		default:
			t.Fatalf("a tenant of %d users", s.Users)
		}
	}
	if len(sizes) != 1000 || users != 1_000_000 || large != 540 || small != 460 {
		t.Errorf("%d tenants, %d users: %d large, %d small", len(sizes), users, large, small)
	}
	if got := Subscriptions(sizes); got != 1540 {
		t.Errorf("%d subscriptions' worth of users, want 1,540", got)
	}
	// Onboarding asks each tenant for a spare monitor beyond its users'.
	if monitors != 1540+1000 {
		t.Errorf("%d monitor accounts, want 2,540", monitors)
	}
}

func TestASmallLayoutKeepsEveryUserAndTenant(t *testing.T) {
	for _, c := range []struct{ tenants, users int }{{10, 10_000}, {3, 100}, {1, 1}, {7, 6_999}} {
		sizes := Layout(c.tenants, c.users)
		n := 0
		for _, s := range sizes {
			if s.Users < 1 || s.Monitors < 2 {
				t.Errorf("%d/%d: a tenant of %d users and %d monitors", c.tenants, c.users, s.Users, s.Monitors)
			}
			n += s.Users
		}
		if len(sizes) != c.tenants || n != c.users {
			t.Errorf("%d tenants of %d users: got %d tenants of %d", c.tenants, c.users, len(sizes), n)
		}
	}
	if Layout(5, 4) != nil || Layout(0, 10) != nil {
		t.Error("fewer users than tenants, or no tenant, gave a layout")
	}
}
