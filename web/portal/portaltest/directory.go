package portaltest

import (
	"context"

	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/identity"
)

// directory is the tenants' Graph clients as the engine builds them, over
// graphsim at simURL: the app-only client the roster and the portal
// admins look users up with (GraphClients.Directory).
func directory(p *Portal, id *identity.Client, simURL string) *engine.GraphClients {
	return engine.NewGraphClients(engine.ClientsOptions{Store: p.Store, Credentials: p.Onboarding.Credentials, AppTokens: id,
		ClientID: p.Seed.App.ClientID,
		NewClient: func(token func(context.Context) (string, error)) (engine.Client, error) {
			return graph.New(graph.Options{BaseURL: simURL + "/v1.0", Token: token})
		}})
}
