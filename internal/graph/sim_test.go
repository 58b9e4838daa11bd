package graph

import (
	"testing"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"presencebridge/internal/graphsim/simtest"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// These tests are graphsim's acceptance suite: every call the product makes
// goes through the official SDK to graphsim on loopback, and the answers
// are checked against what Microsoft documents.

// env is simtest's environment (graphsim on loopback, one seeded tenant, a
// clock the tests move) with the Client built over it.
type env struct {
	*simtest.Env
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{Env: simtest.New(t), t: t}
}

// client builds a Client over ts; retries are off unless change turns them
// on, so throttling shows at once. The recorder sees every request.
func (e *env) client(ts oauth2.TokenSource, change ...func(*Options)) (*Client, *simtest.Recorder) {
	e.t.Helper()
	rec := &simtest.Recorder{}
	opts := Options{BaseURL: e.Base + "/v1.0", Tokens: ts, Transport: rec, Retry: Retry{Off: true}}
	for _, f := range change {
		f(&opts)
	}
	c, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, rec
}

// app is the product's app-only client; monitor(i) a monitor's delegated one.
func (e *env) app() (*Client, *simtest.Recorder) { return e.client(e.AppTokens(e.Seed.App)) }
func (e *env) monitor(i int) (*Client, *simtest.Recorder) {
	return e.client(e.UserTokens(e.Seed.App, e.Tenant.Monitors[i]))
}

func TestMain(m *testing.M) { testkit.Main(m) }

// ourTenant is the product's store on a fresh database holding one active
// tenant connected to the Microsoft tenant ms; ring seals its secrets.
func ourTenant(t *testing.T, ms uuid.UUID) (*store.Store, *seal.Ring, uuid.UUID) {
	t.Helper()
	pool := testkit.DB(t)
	ring := storetest.Ring(t)
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, tenant, ms)
	return store.New(pool, ring), ring, tenant
}
