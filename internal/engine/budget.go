package engine

import (
	"context"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"presencebridge/internal/graph/graphapi"
)

// Graph's documented budgets for presence reads (docs/graph.md#throttling): 1,500
// requests per 30 s per app per tenant, and 130,000 per 10 s per app
// across tenants.
const (
	TenantPresenceRate  = rate.Limit(1500.0 / 30)
	TenantPresenceBurst = 1500
	GlobalRate          = rate.Limit(130000.0 / 10)
	GlobalBurst         = 130000
)

// Budget keeps presence reads within Graph's budgets with token buckets,
// one per tenant and one for the app, so that a repair of a large tenant
// waits its turn rather than earning 429s for everyone. A tenant is
// reconciled by one process at a time (its lock), so its bucket is
// per-process; the global bucket is per-process too, and Graph's own 429s
// with Retry-After (honoured by the client) cover the rest.
type Budget struct {
	global      *rate.Limiter
	tenantRate  rate.Limit
	tenantBurst int
	mu          sync.Mutex
	tenants     map[uuid.UUID]*rate.Limiter
}

// NewBudget returns a Budget; zero values take Graph's documented budgets.
func NewBudget(tenantRate rate.Limit, tenantBurst int, global rate.Limit, globalBurst int) *Budget {
	if tenantRate == 0 {
		tenantRate, tenantBurst = TenantPresenceRate, TenantPresenceBurst
	}
	if global == 0 {
		global, globalBurst = GlobalRate, GlobalBurst
	}
	return &Budget{global: rate.NewLimiter(global, globalBurst), tenantRate: tenantRate, tenantBurst: tenantBurst,
		tenants: map[uuid.UUID]*rate.Limiter{}}
}

// Wait blocks until n presence requests for the tenant fit both budgets.
func (b *Budget) Wait(ctx context.Context, tenantID uuid.UUID, n int) error {
	b.mu.Lock()
	l := b.tenants[tenantID]
	if l == nil {
		l = rate.NewLimiter(b.tenantRate, b.tenantBurst)
		b.tenants[tenantID] = l
	}
	b.mu.Unlock()
	for n > 0 { // WaitN refuses more than the burst at once
		k := min(n, b.tenantBurst, b.global.Burst())
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		if err := b.global.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Reader wraps r so that its reads wait for the tenant's budget.
func (b *Budget) Reader(tenantID uuid.UUID, r graphapi.PresenceReader) graphapi.PresenceReader {
	return &budgetedReader{b: b, tenant: tenantID, r: r}
}

type budgetedReader struct {
	b      *Budget
	tenant uuid.UUID
	r      graphapi.PresenceReader
}

func (br *budgetedReader) GetPresences(ctx context.Context, userIDs []string) ([]graphapi.Presence, error) {
	calls := (len(userIDs) + graphapi.MaxPresenceIDs - 1) / graphapi.MaxPresenceIDs
	if err := br.b.Wait(ctx, br.tenant, calls); err != nil {
		return nil, err
	}
	return br.r.GetPresences(ctx, userIDs)
}

func (br *budgetedReader) GetPresence(ctx context.Context, userID string) (graphapi.Presence, error) {
	if err := br.b.Wait(ctx, br.tenant, 1); err != nil {
		return graphapi.Presence{}, err
	}
	return br.r.GetPresence(ctx, userID)
}
