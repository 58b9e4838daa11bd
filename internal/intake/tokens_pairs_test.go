package intake

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// TestEveryTenantOfAPostNeedsItsOwnValidationToken: two tenants on the
// same app — our registration, so one audience vouches for both apps —
// in one POST: a token for one of them does not vouch for the other's
// items. The whole POST is suspect then, and nothing of it is applied,
// the vouched-for tenant's items included; with both tokens, both apply.
// (The review's "validation tokens must cover every (tenant, app) pair in
// a POST" held already: notification.Validator.Check requires a token
// per tenant with rich items, of that tenant's app, and the processor
// drops the whole POST when it fails.)
func TestEveryTenantOfAPostNeedsItsOwnValidationToken(t *testing.T) {
	f := newFixture(t) // Contoso, on our app, subscription sub-1
	ctx := context.Background()
	ourApp := uuid.NewString()

	// Northwind, on our app as well, subscription sub-3.
	northwind, northwindMS := f.otherTenant(t, "Northwind", "sub-3", "cs3")

	p, ms := f.checkingTokens(t, ourApp)
	contosoItem := func() map[string]any { return f.rich(t, uuid.New(), "Busy", "InACall", "1") }
	northwindItem := func() map[string]any { return f.richOf(t, "sub-3", "cs3", northwindMS) }
	contosoToken, northwindToken := ms.token(t, f.msTenant, ourApp), ms.token(t, northwindMS, ourApp)
	events := func(tenant uuid.UUID) int {
		return f.count(t, `SELECT count(*) FROM presence_events WHERE tenant_id = $1`, tenant)
	}

	for _, c := range []struct {
		name               string
		tokens             []string
		contoso, northwind int // events applied
	}{
		{"only Contoso's token", []string{contosoToken}, 0, 0},
		{"only Northwind's token", []string{northwindToken}, 0, 0},
		{"both tokens", []string{contosoToken, northwindToken}, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			beforeC, beforeN := events(f.tenant), events(northwind)
			items := []map[string]any{contosoItem(), northwindItem(), contosoItem()}
			b, _ := json.Marshal(map[string]any{"value": items, "validationTokens": c.tokens})
			testkit.Exec(t, f.pool, `INSERT INTO inbox (kind, payload, items) VALUES ('change', $1, $2)`, b, len(items))
			if _, err := p.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if gotC, gotN := events(f.tenant)-beforeC, events(northwind)-beforeN; gotC != c.contoso || gotN != c.northwind {
				t.Errorf("applied %d of Contoso's items and %d of Northwind's, want %d and %d", gotC, gotN, c.contoso, c.northwind)
			}
		})
	}
}

// otherTenant is a tenant beside the fixture's, connected to a Microsoft
// tenant of its own (returned), with a monitor holding subscription
// graphID of clientState.
func (f *fixture) otherTenant(t *testing.T, name, graphID, clientState string) (tenant, msTenant uuid.UUID) {
	t.Helper()
	tenant, msTenant = storetest.Tenant(t, f.pool, name), uuid.New()
	testkit.Exec(t, f.pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, tenant, msTenant)
	m, err := f.st.AddMonitor(context.Background(), tenant, "monitor@"+strings.ToLower(name)+".example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, f.pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, $3, 'r', $4)`,
		tenant, m.ID, graphID, store.ClientStateHash(clientState))
	return tenant, msTenant
}

// checkingTokens is a processor that checks validation tokens against the
// keys of the Microsoft returned, our app registration being ourApp.
func (f *fixture) checkingTokens(t *testing.T, ourApp string) (*Processor, *microsoft) {
	t.Helper()
	ms := newMicrosoft(t)
	v, err := notification.NewValidator(context.Background(), notification.ValidatorOptions{LoginURL: ms.login, Audiences: []string{ourApp}})
	if err != nil {
		t.Fatal(err)
	}
	return NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: v}), ms
}

// richOf is a rich item of another tenant's subscription (otherTenant).
func (f *fixture) richOf(t *testing.T, graphID, clientState string, msTenant uuid.UUID) map[string]any {
	t.Helper()
	n := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	n["subscriptionId"], n["clientState"], n["tenantId"] = graphID, clientState, msTenant
	return n
}
