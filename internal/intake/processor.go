package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// TokenChecker validates a POST's validationTokens (*notification.Validator).
type TokenChecker interface {
	Check(tokens []string, tenants []string) error
}

// Processor turns inbox rows into presence: it claims rows with SKIP
// LOCKED (any number of workers share the inbox), validates each POST's
// validationTokens before trusting any of its rich items, decrypts them
// (HMAC checked first), drops stale reorderings and retried duplicates by
// Graph's sequenceNumber, maps the state with the tenant's rules and, in
// the same transaction, records the event and its deliveries and deletes
// the inbox row.
type Processor struct {
	st     *store.Store
	keys   *notification.Keys
	tokens TokenChecker
	logger *slog.Logger
	batch  int
	now    func() time.Time

	mu    sync.Mutex
	rules map[uuid.UUID]cachedRules
}

type cachedRules struct {
	rules presence.Rules
	at    time.Time
}

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	Keys   *notification.Keys
	Tokens TokenChecker
	Logger *slog.Logger
	Batch  int // inbox rows per transaction (default 2: a short transaction commits, and delivers, sooner)
}

// NewProcessor returns a Processor.
func NewProcessor(st *store.Store, opts ProcessorOptions) *Processor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Batch <= 0 {
		opts.Batch = 2
	}
	return &Processor{st: st, keys: opts.Keys, tokens: opts.Tokens, logger: opts.Logger, batch: opts.Batch,
		now: time.Now, rules: map[uuid.UUID]cachedRules{}}
}

// Stats count what one call did.
type Stats struct {
	Rows, Applied, Stale, Unchanged, Rejected, Resync, Lifecycle int
}

// ProcessBatch handles up to Batch inbox rows in one transaction.
func (p *Processor) ProcessBatch(ctx context.Context) (Stats, error) {
	var st Stats
	err := pgx.BeginFunc(ctx, p.st.Pool(), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, kind, payload, received_at FROM inbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, p.batch)
		if err != nil {
			return err
		}
		type inboxRow struct {
			id       int64
			kind     string
			payload  []byte
			received time.Time
		}
		claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (inboxRow, error) {
			var x inboxRow
			return x, r.Scan(&x.id, &x.kind, &x.payload, &x.received)
		})
		if err != nil {
			return err
		}
		ids := make([]int64, len(claimed))
		m := &memo{subs: map[string]store.SubscriptionKey{}, tenants: map[uuid.UUID]store.Tenant{}, touched: map[uuid.UUID]time.Time{},
			changed: map[uuid.UUID]bool{}}
		for i, row := range claimed {
			ids[i] = row.id
			if err := p.processRow(ctx, tx, m, row.kind, row.payload, row.received, &st); err != nil {
				return fmt.Errorf("inbox row %d: %w", row.id, err)
			}
		}
		for id, at := range m.touched {
			if err := p.st.TouchSubscription(ctx, tx, id, at); err != nil {
				return err
			}
		}
		for t := range m.changed {
			if err := p.st.NotifyPresence(ctx, tx, t); err != nil {
				return err
			}
		}
		st.Rows = len(claimed)
		_, err = tx.Exec(ctx, `DELETE FROM inbox WHERE id = ANY($1)`, ids)
		return err
	})
	return st, err
}

// Drain processes until the inbox is empty.
func (p *Processor) Drain(ctx context.Context) (Stats, error) {
	var total Stats
	for {
		st, err := p.ProcessBatch(ctx)
		total.Rows += st.Rows
		total.Applied += st.Applied
		total.Stale += st.Stale
		total.Unchanged += st.Unchanged
		total.Rejected += st.Rejected
		total.Resync += st.Resync
		total.Lifecycle += st.Lifecycle
		if err != nil || st.Rows == 0 {
			return total, err
		}
	}
}

// memo holds what one batch looked up, so items of the same subscription
// cost one query, not one each.
type memo struct {
	subs    map[string]store.SubscriptionKey // by Graph subscription id
	tenants map[uuid.UUID]store.Tenant
	touched map[uuid.UUID]time.Time // subscription → last notification
	changed map[uuid.UUID]bool      // tenants with new events
}

func (p *Processor) processRow(ctx context.Context, tx pgx.Tx, m *memo, kind string, payload []byte, received time.Time, st *Stats) error {
	coll, err := notification.Parse(payload)
	if err != nil {
		p.logger.Warn("intake: unreadable inbox row dropped", "err", err)
		st.Rejected++
		return nil
	}
	rich := false
	tenants := map[string]bool{}
	for _, n := range coll.Value {
		rich = rich || n.EncryptedContent != nil
		tenants[strings.ToLower(n.TenantID)] = true
	}
	if rich {
		var list []string
		for t := range tenants {
			list = append(list, t)
		}
		if p.tokens == nil {
			return errors.New("intake: rich notifications but no validation token checker")
		}
		err := p.tokens.Check(coll.ValidationTokens, list)
		if err != nil && !errors.Is(err, notification.ErrInvalidToken) {
			return err // keys unavailable: leave the row for a later try
		}
		if err != nil {
			// One bad token makes the whole POST suspect (§4.6).
			p.logger.Warn("intake: notification POST with invalid validation tokens dropped", "err", err, "items", len(coll.Value))
			st.Rejected += len(coll.Value)
			return nil
		}
	}
	// RSA unwraps dominate: decrypt the items on every core at once.
	plains := make([]decrypted, len(coll.Value))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, n := range coll.Value {
		if n.EncryptedContent == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			plains[i].plain, plains[i].err = p.keys.Decrypt(n.EncryptedContent)
		})
	}
	wg.Wait()
	for i, n := range coll.Value {
		if err := p.processItem(ctx, tx, m, kind, n, plains[i], received, st); err != nil {
			return err
		}
	}
	return nil
}

type decrypted struct {
	plain []byte
	err   error
}

func (p *Processor) processItem(ctx context.Context, tx pgx.Tx, m *memo, kind string, n notification.Notification, dec decrypted, received time.Time, st *Stats) error {
	sub, ok := m.subs[n.SubscriptionID]
	if !ok {
		var err error
		sub, err = p.st.SubscriptionByGraphID(ctx, tx, n.SubscriptionID)
		if errors.Is(err, store.ErrSubscriptionNotFound) {
			sub, err = p.st.PendingSubscriptionByClientState(ctx, tx, store.ClientStateHash(n.ClientState))
		}
		if errors.Is(err, store.ErrSubscriptionNotFound) {
			st.Rejected++ // deleted since it was received
			return nil
		}
		if err != nil {
			return err
		}
		m.subs[n.SubscriptionID] = sub
	}
	t, ok := m.tenants[sub.TenantID]
	if !ok {
		var err error
		if t, err = p.st.GetTenant(ctx, tx, sub.TenantID); err != nil {
			return err
		}
		m.tenants[sub.TenantID] = t
	}
	if t.MSTenantID != nil && !strings.EqualFold(n.TenantID, t.MSTenantID.String()) {
		st.Rejected++ // a subscription's items always come from its own tenant
		return nil
	}
	if received.After(m.touched[sub.ID]) {
		m.touched[sub.ID] = received
	}
	if kind == "lifecycle" || n.LifecycleEvent != "" {
		st.Lifecycle++
		return p.st.RecordSubscriptionEvent(ctx, tx, sub.ID, n.LifecycleEvent)
	}
	userID := uuid.Nil
	if n.ResourceData != nil {
		userID, _ = uuid.Parse(n.ResourceData.ID)
	}
	if n.EncryptedContent == nil {
		// A basic notification says only that something changed (graph-facts §3.2).
		if userID == uuid.Nil {
			st.Rejected++
			return nil
		}
		st.Resync++
		return p.st.QueueResync(ctx, tx, sub.TenantID, userID, "basic notification")
	}
	plain, err := dec.plain, dec.err
	if err != nil {
		p.logger.Warn("intake: notification item not decrypted", "err", err, "subscription", n.SubscriptionID)
		st.Rejected++
		return nil
	}
	var pr notification.Presence
	if err := json.Unmarshal(plain, &pr); err != nil || pr.Availability == "" {
		st.Rejected++
		return nil
	}
	id, err := uuid.Parse(pr.ID)
	if err != nil || (userID != uuid.Nil && id != userID) {
		st.Rejected++ // the encrypted resource must be the user the item names
		return nil
	}
	rules, err := p.rulesFor(ctx, tx, sub.TenantID)
	if err != nil {
		return err
	}
	outcome, _, err := p.st.ApplyPresence(ctx, tx, store.PresenceChange{TenantID: sub.TenantID, UserID: id,
		Availability: pr.Availability, Activity: pr.Activity, GraphSequence: pr.SequenceNumber,
		MappedState: string(rules.Map(pr.Availability, pr.Activity)), Source: "notification", ObservedAt: received,
		Debounce: time.Duration(rules.Debounce)})
	switch outcome {
	case store.PresenceApplied:
		st.Applied++
		m.changed[sub.TenantID] = true
	case store.PresenceStale:
		st.Stale++
	case store.PresenceUnchanged:
		st.Unchanged++
	}
	return err
}

// rulesFor reads a tenant's mapping rules, cached for a minute.
func (p *Processor) rulesFor(ctx context.Context, q store.DBTX, tenantID uuid.UUID) (presence.Rules, error) {
	p.mu.Lock()
	c, ok := p.rules[tenantID]
	p.mu.Unlock()
	if ok && p.now().Sub(c.at) < time.Minute {
		return c.rules, nil
	}
	r, err := p.st.TenantRules(ctx, q, tenantID)
	if err != nil {
		return r, err
	}
	p.mu.Lock()
	p.rules[tenantID] = cachedRules{r, p.now()}
	p.mu.Unlock()
	return r, nil
}
