package shard

import "testing"

func TestMonitorsNeededCoverEveryUserAtTheCapacityPlusASpare(t *testing.T) {
	for _, c := range []struct{ users, capacity, want int }{
		{0, 650, 1},
		{1, 650, 2},
		{650, 650, 2},
		{651, 650, 3},
		{100_000, 650, 155},
		{100_000, 600, 168}, // a headroom of 50
		{651, 0, 3},         // no capacity given: Graph's 650
		{651, 1000, 3},      // never more than Graph's 650
	} {
		if got := MonitorsNeeded(c.users, c.capacity); got != c.want {
			t.Errorf("MonitorsNeeded(%d, %d) = %d, want %d", c.users, c.capacity, got, c.want)
		}
	}
}
