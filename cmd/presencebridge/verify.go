package main

import (
	"net/http"
	"time"

	"presencebridge/internal/deliver"
	"presencebridge/internal/engine"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/tokens"
	"presencebridge/internal/verify"
)

// verifier runs Verify configuration for the tenant pages with the web
// role's own Graph clients and token vault: the checks ask the identity
// platform and the endpoints themselves, now.
func (a *app) verifier(base string, svc *onboarding.Service, clients *engine.GraphClients, vault *tokens.Vault) *verify.Verifier {
	must, optional := svc.ConsentRoles()
	return verify.New(verify.Deps{Store: a.store, Access: clients, Tokens: vault,
		Tester:        deliver.New(a.store, deliver.Options{AllowPrivate: !a.cfg.Production(), Timeout: 10 * time.Second, Logger: a.logger}),
		RequiredRoles: must, OptionalRoles: optional,
		NotifyURL: base + "/graph/notifications",
		HTTP:      &http.Client{Timeout: 10 * time.Second}})
}
