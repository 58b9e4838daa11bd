package templates

import (
	"context"
	"strings"
	"testing"
)

// The summary of a group roster says how many of the group's members are
// resolved, and before the engine first reads the group, that it has not.
func TestSummaryOfAGroupRosterCountsTheResolvedMembers(t *testing.T) {
	const group = "0f4a2c1e-8a5b-4c7d-9e3f-1a2b3c4d5e6f"
	cases := []struct {
		name string
		v    SummaryView
		want []string
	}{
		{"not read yet", SummaryView{FromGroup: group},
			[]string{"Members of the Entra group " + group + ": not read yet", "Subscribing…", "Not yet: subscribing…"}},
		{"read", SummaryView{FromGroup: group, Users: 5, Monitored: 3, Unresolved: 1, Pending: 1, Monitoring: MonitoringView{Users: 3, Subscriptions: 1}},
			[]string{"Members of the Entra group " + group + ": 3 members resolved, 1 being looked up", "Monitoring 3 users",
				"1 more being looked up or subscribed", "1 user not found"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := render(t, context.Background(), OnboardingSummary(c.v))
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("the summary lacks %q", w)
				}
			}
		})
	}
}
