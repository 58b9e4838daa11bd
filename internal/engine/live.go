package engine

import (
	"context"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
)

// LivePresence reads one user's presence from Graph now, with the tenant's
// reader (app-only where the consent allows, else a monitor's): what the
// user pages show beside the stored presence, for support to compare.
func (g *GraphClients) LivePresence(ctx context.Context, tenantID uuid.UUID, userID string) (graphapi.Presence, error) {
	r, err := g.Reader(ctx, tenantID)
	if err != nil {
		return graphapi.Presence{}, err
	}
	return r.GetPresence(ctx, userID)
}
