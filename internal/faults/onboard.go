package faults

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/seal"
	"presencebridge/internal/simadmin"
	"presencebridge/internal/store"
)

const actor = "staff:faults@vendor.example"

// openStore opens the product's database on the server's socket (around
// the proxy, which a scenario may cut) with the processes' seal key. The
// caller closes the pool.
func (w *World) openStore(ctx context.Context) (*store.Store, *pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, w.PG.DirectDSN())
	if err != nil {
		return nil, nil, err
	}
	return store.New(pool, sealRing()), pool, nil
}

// onboard takes graphsim's tenant from an invitation to active, as its
// administrator would (simadmin), with its users monitored and a webhook
// to the receiver, whose signing secret the receiver then checks with;
// and makes an API key with every scope.
func (w *World) onboard(ctx context.Context) error {
	st, pool, err := w.openStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	svc, err := w.onboarding(st, sealRing())
	if err != nil {
		return err
	}
	_, link, err := svc.CreateInvite(ctx, "Contoso", actor, 0)
	if err != nil {
		return err
	}
	if w.Tenant, err = svc.OpenInvite(ctx, link[strings.LastIndex(link, "/")+1:]); err != nil {
		return err
	}
	ten := w.Graph.Seed.Tenants[0]
	var users []string
	for i, u := range ten.Users {
		users = append(users, fmt.Sprintf("%s,ext-%d", u.UPN, i))
	}
	f := onboarding.Form{Company: "Contoso", MicrosoftTenant: ten.Domain, AdminEmail: ten.Admin.UPN, TelephonyAccount: "faults",
		Users: strings.Join(users, "\n"), EventTarget: "webhook", WebhookURL: w.Receiver.URL}
	if err := simadmin.Onboard(ctx, svc, w.Tenant, ten, f, false); err != nil {
		return err
	}
	if w.APIKey, err = svc.NewAPIKey(ctx, w.Tenant, "faults", actor); err != nil {
		return err
	}
	secret, err := svc.SigningSecret(ctx, w.Tenant, w.Receiver.URL, actor)
	if err != nil {
		return err
	}
	w.Receiver.SetSecret(secret)
	return nil
}

// onboarding is the onboarding service the pages call, over st, making
// links with ring (st's), at graphsim's identity platform.
func (w *World) onboarding(st *store.Store, ring *seal.Ring) (*onboarding.Service, error) {
	idc, err := identity.New(identity.Options{LoginURL: w.Graph.URL})
	if err != nil {
		return nil, err
	}
	app := w.Graph.Seed.App
	return onboarding.New(st, idc, links.New(ring, nil), onboarding.Config{
		App: identity.App{ClientID: app.ClientID, ClientSecret: app.ClientSecret}, BaseURL: w.BaseURL, AllowLoopbackWebhooks: true}), nil
}

// SealKey is the seal key the suite gives every product process.
const SealKey = sealKey

// SealRing is the ring of SealKey, for a harness's own store.
func SealRing() *seal.Ring { return sealRing() }

// sealRing is the ring of sealKey.
func sealRing() *seal.Ring {
	keys, err := seal.ParseKeys(sealKey)
	if err != nil {
		panic(err) // a constant
	}
	ring, err := seal.NewRing(keys, "k1")
	if err != nil {
		panic(err)
	}
	return ring
}
