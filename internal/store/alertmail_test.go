package store_test

import (
	"context"
	"strings"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// An endpoint that answers 410 is disabled with an alert naming it; the
// alert goes when the endpoint is enabled again, or deleted.
func TestAGoneEndpointRaisesAnAlertThatEnablingOrDeletingResolves(t *testing.T) {
	ctx := context.Background()
	st, tenant := storetest.New(t)
	open := func() []store.Alert {
		t.Helper()
		all, err := st.Alerts(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		var out []store.Alert
		for _, a := range all {
			if a.ResolvedAt == nil {
				out = append(out, a)
			}
		}
		return out
	}
	ep, _ := st.CreateEndpoint(ctx, tenant, "https://a.example/hook", "whsec_b25l")
	if err := st.EndpointGone(ctx, tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetEndpoint(ctx, tenant, ep.ID)
	alerts := open()
	if got.Enabled || len(alerts) != 1 || alerts[0].Kind != store.AlertEndpointDisabled || alerts[0].Subject != ep.ID.String() ||
		!strings.Contains(alerts[0].Message, "https://a.example/hook") || !strings.Contains(alerts[0].Message, "410 Gone") {
		t.Fatalf("after 410: enabled %v, open alerts %+v", got.Enabled, alerts)
	}
	if _, err := st.EnableEndpoint(ctx, tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if a := open(); len(a) != 0 {
		t.Errorf("enabled again, open alerts %+v", a)
	}
	if err := st.EndpointGone(ctx, tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteEndpoint(ctx, tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if a := open(); len(a) != 0 {
		t.Errorf("deleted, open alerts %+v", a)
	}
}
