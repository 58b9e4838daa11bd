package writeback

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
	"presencebridge/internal/graph/graphapi"
)

// grantedLater is a tenant whose administrator granted Presence.ReadWrite.All
// after its token was cached: only a fresh token carries it.
type grantedLater struct {
	graphapi.PresenceWriter // only SetStatusMessage is called
	fresh                   bool
	checks, sent            int
}

func (g *grantedLater) Writer(context.Context, uuid.UUID) (engine.AppWriter, error) {
	roles := []string{"User.Read.All", "Presence.Read.All"}
	if g.fresh {
		roles = append(roles, "Presence.ReadWrite.All")
	}
	return engine.AppWriter{PresenceWriter: g, Roles: roles, Access: engine.Access{ClientID: "app"}}, nil
}

func (g *grantedLater) CheckAccess(context.Context, uuid.UUID) (engine.Access, error) {
	g.checks++
	g.fresh = true
	return engine.Access{ClientID: "app"}, nil
}

func (g *grantedLater) SetStatusMessage(context.Context, string, string, time.Time) error {
	g.sent++
	return nil
}

func TestAGrantGivenSinceTheTokenWasCachedIsFoundWithAFreshToken(t *testing.T) {
	g := &grantedLater{}
	w := New(Options{Clients: g})
	if _, err := w.SetStatusMessage(t.Context(), uuid.New(), uuid.New(), StatusRequest{Message: "On a call"}); err != nil {
		t.Fatal(err)
	}
	if g.checks != 1 || g.sent != 1 {
		t.Errorf("%d fresh tokens asked for, %d writes sent; want 1 and 1", g.checks, g.sent)
	}
}
