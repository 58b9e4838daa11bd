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

// ProcessBatch handles up to Batch inbox rows in one transaction: every
// rich item of the batch is decrypted at once on all cores, and the
// batch's changes are applied in one set (store.ApplyPresenceBatch), so a
// transaction costs a handful of round trips, not two or three per change.
func (p *Processor) ProcessBatch(ctx context.Context) (Stats, error) {
	var st Stats
	err := pgx.BeginFunc(ctx, p.st.Pool(), func(tx pgx.Tx) error {
		// Planned per execution: a plan cached while the inbox was empty
		// sorts all of it, and a backlog is when the inbox is not.
		rows, err := tx.Query(ctx, `SELECT id, kind, payload, received_at FROM inbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
			pgx.QueryExecModeCacheDescribe, p.batch)
		if err != nil {
			return err
		}
		claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (inboxRow, error) {
			var x inboxRow
			return x, r.Scan(&x.id, &x.kind, &x.payload, &x.received)
		})
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			return nil
		}
		ids := make([]int64, len(claimed))
		posts := make([]post, 0, len(claimed))
		for i, row := range claimed {
			ids[i] = row.id
			ok, err := p.open(row, &st)
			if err != nil {
				return fmt.Errorf("inbox row %d: %w", row.id, err)
			}
			if ok.coll.Value != nil {
				posts = append(posts, ok)
			}
		}
		m := &memo{subs: map[string]store.SubscriptionKey{}, tenants: map[uuid.UUID]store.Tenant{}, touched: map[uuid.UUID]time.Time{}}
		// While every core unwraps keys, this goroutine — idle otherwise —
		// looks up the subscriptions and tenants the items name.
		decrypted := make(chan struct{})
		go func() {
			defer close(decrypted)
			p.decrypt(posts)
		}()
		err = p.prefetch(ctx, tx, m, posts)
		<-decrypted
		if err != nil {
			return err
		}
		var changes []store.PresenceChange
		for _, po := range posts {
			for i, n := range po.coll.Value {
				c, ok, err := p.processItem(ctx, tx, m, po.row.kind, n, po.plains[i], po.row.received, &st)
				if err != nil {
					return fmt.Errorf("inbox row %d: %w", po.row.id, err)
				}
				if ok {
					changes = append(changes, c)
				}
			}
		}
		outcomes, _, err := p.st.ApplyPresenceBatch(ctx, tx, changes)
		if err != nil {
			return err
		}
		changed := map[uuid.UUID]bool{}
		var tenants []uuid.UUID
		for i, o := range outcomes {
			switch o {
			case store.PresenceApplied:
				st.Applied++
				if t := changes[i].TenantID; !changed[t] {
					changed[t] = true
					tenants = append(tenants, t)
				}
			case store.PresenceStale:
				st.Stale++
			case store.PresenceUnchanged:
				st.Unchanged++
			}
		}
		st.Rows = len(claimed)
		return p.st.CompleteInboxBatch(ctx, tx, ids, m.touched, tenants)
	})
	return st, err
}

type inboxRow struct {
	id       int64
	kind     string
	payload  []byte
	received time.Time
}

// post is an inbox row whose items may be trusted, with their plaintexts.
type post struct {
	row    inboxRow
	coll   notification.Collection
	plains []decrypted
}

// Drain processes until the inbox is empty: until a batch finds fewer
// rows than it may take (what arrives later wakes the caller again), which
// spares the empty transaction that would otherwise end every drain.
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
		if err != nil || st.Rows < p.batch {
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
}

// open parses an inbox row and checks its validationTokens before any of
// its rich items is trusted. A row to drop comes back without items; an
// error (keys unavailable) leaves the batch for a later try.
func (p *Processor) open(row inboxRow, st *Stats) (post, error) {
	coll, err := notification.Parse(row.payload)
	if err != nil {
		p.logger.Warn("intake: unreadable inbox row dropped", "err", err)
		st.Rejected++
		return post{}, nil
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
			return post{}, errors.New("intake: rich notifications but no validation token checker")
		}
		err := p.tokens.Check(coll.ValidationTokens, list)
		if err != nil && !errors.Is(err, notification.ErrInvalidToken) {
			return post{}, err // keys unavailable: leave the row for a later try
		}
		if err != nil {
			// One bad token makes the whole POST suspect (§4.6).
			p.logger.Warn("intake: notification POST with invalid validation tokens dropped", "err", err, "items", len(coll.Value))
			st.Rejected += len(coll.Value)
			return post{}, nil
		}
	}
	return post{row: row, coll: coll, plains: make([]decrypted, len(coll.Value))}, nil
}

// decrypt opens every rich item of the batch's posts on all cores at
// once: RSA unwraps dominate the processor's work.
func (p *Processor) decrypt(posts []post) {
	type job struct{ post, item int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				ec := posts[j.post].coll.Value[j.item].EncryptedContent
				d := &posts[j.post].plains[j.item]
				d.plain, d.err = p.keys.Decrypt(ec)
				// An unwrap is a millisecond of CPU that never blocks: let
				// the goroutines waiting for a core (a webhook to send, a
				// claim's answer, a POST to acknowledge) run before the
				// next, instead of after Go's 10 ms preemption.
				runtime.Gosched()
			}
		})
	}
	for i, po := range posts {
		for k, n := range po.coll.Value {
			if n.EncryptedContent != nil {
				jobs <- job{i, k}
			}
		}
	}
	close(jobs)
	wg.Wait()
}

type decrypted struct {
	plain []byte
	err   error
}

// processItem checks one item against its subscription and tenant. A
// lifecycle or basic item is handed on at once; a rich one comes back as
// the change to apply (ok).
func (p *Processor) processItem(ctx context.Context, tx pgx.Tx, m *memo, kind string, n notification.Notification, dec decrypted, received time.Time, st *Stats) (c store.PresenceChange, ok bool, err error) {
	sub, t, found, err := p.lookup(ctx, tx, m, n)
	if err != nil {
		return c, false, err
	}
	if !found {
		st.Rejected++ // deleted since it was received
		return c, false, nil
	}
	if t.MSTenantID != nil && !strings.EqualFold(n.TenantID, t.MSTenantID.String()) {
		st.Rejected++ // a subscription's items always come from its own tenant
		return c, false, nil
	}
	if received.After(m.touched[sub.ID]) {
		m.touched[sub.ID] = received
	}
	if kind == "lifecycle" || n.LifecycleEvent != "" {
		st.Lifecycle++
		return c, false, p.st.RecordSubscriptionEvent(ctx, tx, sub.ID, n.LifecycleEvent)
	}
	userID := uuid.Nil
	if n.ResourceData != nil {
		userID, _ = uuid.Parse(n.ResourceData.ID)
	}
	if n.EncryptedContent == nil {
		// A basic notification says only that something changed (graph-facts §3.2).
		if userID == uuid.Nil {
			st.Rejected++
			return c, false, nil
		}
		st.Resync++
		return c, false, p.st.QueueResync(ctx, tx, sub.TenantID, userID, "basic notification")
	}
	if dec.err != nil {
		p.logger.Warn("intake: notification item not decrypted", "err", dec.err, "subscription", n.SubscriptionID)
		st.Rejected++
		return c, false, nil
	}
	var pr notification.Presence
	if err := json.Unmarshal(dec.plain, &pr); err != nil || pr.Availability == "" {
		st.Rejected++
		return c, false, nil
	}
	id, err := uuid.Parse(pr.ID)
	if err != nil || (userID != uuid.Nil && id != userID) {
		st.Rejected++ // the encrypted resource must be the user the item names
		return c, false, nil
	}
	rules, err := p.rulesFor(ctx, tx, sub.TenantID)
	if err != nil {
		return c, false, err
	}
	return store.PresenceChange{TenantID: sub.TenantID, UserID: id,
		Availability: pr.Availability, Activity: pr.Activity, GraphSequence: pr.SequenceNumber,
		MappedState: string(rules.Map(pr.Availability, pr.Activity)), Source: "notification", ObservedAt: received,
		Debounce: time.Duration(rules.Debounce)}, true, nil
}

// prefetch looks up, into m, the subscription and tenant of every item,
// and the tenant's rules.
func (p *Processor) prefetch(ctx context.Context, tx pgx.Tx, m *memo, posts []post) error {
	for _, po := range posts {
		for _, n := range po.coll.Value {
			sub, _, found, err := p.lookup(ctx, tx, m, n)
			if err != nil {
				return err
			}
			if found {
				if _, err := p.rulesFor(ctx, tx, sub.TenantID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lookup finds an item's subscription (found false: deleted since it was
// received) and its tenant, once per batch.
func (p *Processor) lookup(ctx context.Context, tx pgx.Tx, m *memo, n notification.Notification) (store.SubscriptionKey, store.Tenant, bool, error) {
	sub, found := m.subs[n.SubscriptionID]
	if !found {
		var err error
		sub, err = p.st.SubscriptionByGraphID(ctx, tx, n.SubscriptionID)
		if errors.Is(err, store.ErrSubscriptionNotFound) {
			sub, err = p.st.PendingSubscriptionByClientState(ctx, tx, store.ClientStateHash(n.ClientState))
		}
		if errors.Is(err, store.ErrSubscriptionNotFound) {
			return sub, store.Tenant{}, false, nil
		}
		if err != nil {
			return sub, store.Tenant{}, false, err
		}
		m.subs[n.SubscriptionID] = sub
	}
	t, found := m.tenants[sub.TenantID]
	if !found {
		var err error
		if t, err = p.st.GetTenant(ctx, tx, sub.TenantID); err != nil {
			return sub, t, false, err
		}
		m.tenants[sub.TenantID] = t
	}
	return sub, t, true, nil
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
