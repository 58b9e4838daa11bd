package graph

import (
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/communications"
)

// GET /communications/presences/{id} through the SDK's own builder (the
// product reads presence through /users/{id}/presence and
// getPresencesByUserId; this pins graphsim's third documented path).
func TestCommunicationsPresenceThroughTheSDK(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[1]
	if err := e.Sim.SetTeamsPresence(u.ID, "DoNotDisturb", "Presenting"); err != nil {
		t.Fatal(err)
	}
	b := communications.NewCommunicationsRequestBuilderInternal(map[string]string{"baseurl": c.base}, c.adapter)
	p, err := b.Presences().ByPresenceId(u.ID.String()).Get(t.Context(), nil)
	if err != nil {
		t.Fatal(wrap("get", err))
	}
	got := presenceOf(p)
	if got.UserID != u.ID.String() || got.Availability != "DoNotDisturb" || got.Activity != "Presenting" || got.SequenceNumber == "" {
		t.Errorf("presence = %+v", got)
	}
	_, err = b.Presences().ByPresenceId("6b3e7f1c-0000-4000-8000-000000000000").Get(t.Context(), nil)
	graphError(t, wrap("get", err), 404, "Request_ResourceNotFound")
}
