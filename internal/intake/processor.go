package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"presencebridge/internal/activity"
	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// TokenChecker validates a POST's validationTokens against the tenants its
// items come from, each with the app its subscriptions are made with
// (*notification.Validator).
type TokenChecker interface {
	Check(tokens []string, expect []notification.Expect) error
}

// KeyLoader puts every usable encryption certificate of ours into keys,
// reading through q (*certs.Manager).
type KeyLoader interface {
	LoadFrom(ctx context.Context, q *store.Store, keys *notification.Keys) error
}

// Processor turns inbox rows into presence: it claims rows with SKIP
// LOCKED (any number of workers share the inbox), validates each POST's
// validationTokens before trusting any of its rich items, decrypts them
// (HMAC checked first), drops stale reorderings and retried duplicates by
// Graph's sequenceNumber, maps the state with the tenant's rules and, in
// the same transaction, records the event and its deliveries and deletes
// the inbox row. Nothing it cannot apply is lost silently: an item it
// cannot decrypt for want of a certificate has its user re-read, and
// every item dropped is counted and logged.
type Processor struct {
	st      *store.Store
	keys    *notification.Keys
	certs   KeyLoader
	loads   singleflight.Group
	tokens  TokenChecker
	logger  *slog.Logger
	metrics *Metrics
	counts  *activity.Recorder
	prio    *Priority
	batch   int
	// maxBatch is what a drain's batches grow to while each comes back
	// full (ProcessorOptions.MaxBatch).
	maxBatch int

	mu    sync.Mutex
	rules map[uuid.UUID]cachedRules
}

// cachedRules are a tenant's parsed rules and the stored text they were
// parsed from.
type cachedRules struct {
	raw   []byte
	rules presence.Rules
}

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	Keys *notification.Keys
	// Certs reloads Keys at once when an item names a certificate they do
	// not hold (made moments ago, perhaps by another instance); nil: no
	// reload, such items have their user re-read.
	Certs   KeyLoader
	Tokens  TokenChecker
	Logger  *slog.Logger
	Metrics *Metrics // nil: drops are logged, not counted
	// Activity, when set, counts each tenant's notification items once
	// their batch commits.
	Activity *activity.Recorder
	// Priority, when set, holds the processor back before each batch and
	// each unwrap while the receiver in this process acknowledges a POST.
	Priority *Priority
	Batch    int // inbox rows per transaction (default 2: a short transaction commits, and delivers, sooner)
	// MaxBatch is how many rows a transaction may take while the inbox
	// has a backlog: a drain doubles its batch from Batch each time one
	// comes back full with fewer than growItems items (default 32, at
	// least Batch).
	MaxBatch int
}

// NewProcessor returns a Processor.
func NewProcessor(st *store.Store, opts ProcessorOptions) *Processor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Batch <= 0 {
		opts.Batch = 2
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 32
	}
	opts.MaxBatch = max(opts.MaxBatch, opts.Batch)
	return &Processor{st: st, keys: opts.Keys, certs: opts.Certs, tokens: opts.Tokens, logger: opts.Logger, metrics: opts.Metrics,
		counts: opts.Activity, prio: opts.Priority, batch: opts.Batch, maxBatch: opts.MaxBatch, rules: map[uuid.UUID]cachedRules{}}
}

// Stats count what one call did. Items are the notification items of the
// rows it read. Failed rows failed alone and wait to be tried again;
// Quarantined ones were moved to the quarantine (MaxAttempts failures, a
// bad validation token, unreadable).
type Stats struct {
	Rows, Items, Applied, Stale, Unchanged, Rejected, Resync, Lifecycle, Failed, Quarantined int
}

func (s *Stats) add(o Stats) {
	s.Rows += o.Rows
	s.Items += o.Items
	s.Applied += o.Applied
	s.Stale += o.Stale
	s.Unchanged += o.Unchanged
	s.Rejected += o.Rejected
	s.Resync += o.Resync
	s.Lifecycle += o.Lifecycle
	s.Failed += o.Failed
	s.Quarantined += o.Quarantined
}

// ProcessBatch handles up to Batch inbox rows in one transaction: every
// rich item of the batch is decrypted at once on all cores, and the
// batch's changes are applied in one set (store.ApplyPresenceBatch), so a
// transaction costs a handful of round trips, not two or three per change.
// What it dropped, quarantined or queued for a re-read is counted and
// logged once the transaction commits. A batch that fails is tried again
// row by row at once (isolate), so that a row failing whatever it is
// tried with holds back no other; unless the failure is no row's fault
// (blameless), then it is tried again whole, later.
func (p *Processor) ProcessBatch(ctx context.Context) (Stats, error) {
	return p.processBatch(ctx, p.batch)
}

// processBatch is ProcessBatch of up to n rows.
func (p *Processor) processBatch(ctx context.Context, n int) (Stats, error) {
	var st Stats
	var claimed []store.ClaimedInboxRow
	m := newMemo()
	// Before the transaction, not in it: a wait there would hold its
	// claimed rows and its connection.
	p.prio.Yield(ctx)
	err := p.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if claimed, err = tx.ClaimInbox(ctx, n); err != nil || len(claimed) == 0 {
			return err
		}
		st.Rows = len(claimed)
		return p.process(ctx, tx, claimed, m, &st)
	})
	switch {
	case err == nil:
		p.report(m, st)
		return st, nil
	case len(claimed) == 0 || blameless(ctx, err):
		return Stats{}, err
	}
	return p.isolate(ctx, claimed, err)
}

// process handles claimed rows in tx, noting in m and st what it did.
func (p *Processor) process(ctx context.Context, tx store.Tx, claimed []store.ClaimedInboxRow, m *memo, st *Stats) error {
	ids := make([]int64, len(claimed))
	posts := make([]post, 0, len(claimed))
	for i, c := range claimed {
		row := inboxRow{id: c.ID, kind: c.Kind, payload: c.Payload, received: c.ReceivedAt}
		ids[i] = row.id
		if po, ok := p.open(row, m, st); ok {
			posts = append(posts, po)
		}
	}
	// While every core unwraps keys, this goroutine — idle otherwise —
	// looks up the subscriptions and tenants the items name. Nothing
	// decrypted is used before its POST's tokens pass (validate), and
	// those are checked against what the lookups found.
	decrypted := make(chan struct{})
	go func() {
		defer close(decrypted)
		p.decrypt(ctx, posts, false)
	}()
	err := p.prefetch(ctx, tx, m, posts)
	<-decrypted
	if err != nil {
		return err
	}
	if posts, err = p.validate(posts, m, st); err != nil {
		return err
	}
	if err := p.retryUnknownCertificates(ctx, tx, m, posts); err != nil {
		return err
	}
	var changes []store.PresenceChange
	for _, po := range posts {
		for i, n := range po.coll.Value {
			c, ok, err := p.processItem(ctx, tx, m, po.row, n, po.plains[i], st)
			if err != nil {
				return fmt.Errorf("inbox row %d: %w", po.row.id, err)
			}
			if ok {
				changes = append(changes, c)
			}
		}
	}
	// The inbox is done with first: applying takes the tenants' stream
	// locks (held until commit), and nothing else should wait in them.
	if err := quarantineNoted(ctx, tx, m); err != nil {
		return err
	}
	if err := tx.CompleteInboxBatch(ctx, ids, m.touched); err != nil {
		return err
	}
	outcomes, _, err := tx.ApplyPresenceBatch(ctx, changes)
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		switch o {
		case store.PresenceApplied:
			st.Applied++
		case store.PresenceStale:
			st.Stale++
		case store.PresenceUnchanged:
			st.Unchanged++
		}
	}
	return nil
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
// spares the empty transaction that would otherwise end every drain. Each
// batch that comes back full doubles the next, up to MaxBatch, while its
// rows held fewer than growItems items: a backlog spreads each
// transaction's fixed cost (claim, lookups, commit) over more rows and
// drains, where two rows a transaction only kept pace with the load that
// made it — at 1,000 changes/s a 300-row backlog formed in the first
// seconds held every change 3–9 s until the load stopped; with growth it
// drained within 9–12 s (two load runs, 2026-12-03).
func (p *Processor) Drain(ctx context.Context) (Stats, error) {
	var total Stats
	n := p.batch
	for {
		st, err := p.processBatch(ctx, n)
		total.add(st)
		if err != nil || st.Rows < n {
			return total, err
		}
		if st.Items < growItems {
			n = min(2*n, p.maxBatch)
		}
	}
}

// growItems bounds a growing drain's transactions by what they carry, not
// only by rows: Graph puts up to 1,000 items in one POST while a backlog
// builds on its side, and a transaction of thousands of items would hold
// its tenants' stream locks for seconds of RSA unwraps (about 0.27 ms
// each, on all cores). A batch that already held this many is not grown.
const growItems = 1000

// memo holds what one batch looked up, so items of the same subscription
// cost one query, not one each, and what it dropped, quarantined or
// queued for a re-read and which rows failed, reported once it commits.
type memo struct {
	subs        map[string]store.SubscriptionKey // by Graph subscription id
	tenants     map[uuid.UUID]store.Tenant
	apps        map[uuid.UUID]string         // by tenant: its own app's client id, "" for ours
	rules       map[uuid.UUID]presence.Rules // by tenant, as stored when the batch read the tenant
	touched     map[uuid.UUID]time.Time      // subscription → last notification
	drops       []drop
	resyncs     []resync
	quarantines []quarantine
	failures    []failure
	notified    []notified // counted once the batch commits
}

// notified is a tenant's change notification item, received at.
type notified struct {
	tenant uuid.UUID
	at     time.Time
}

func newMemo() *memo {
	return &memo{subs: map[string]store.SubscriptionKey{}, tenants: map[uuid.UUID]store.Tenant{}, apps: map[uuid.UUID]string{},
		rules: map[uuid.UUID]presence.Rules{}, touched: map[uuid.UUID]time.Time{}}
}

// open parses an inbox row; one that is not a notification collection is
// quarantined, its item dropped (ok false). Its validationTokens are
// checked once its items' subscriptions are known (validate).
func (p *Processor) open(row inboxRow, m *memo, st *Stats) (po post, ok bool) {
	coll, err := notification.Parse(row.payload)
	if err != nil {
		p.drop(m, st, DropUnreadable, row, notification.Notification{}, uuid.Nil, err)
		p.quarantine(m, st, row, QuarantineUnreadable, err)
		return post{}, false
	}
	st.Items += len(coll.Value)
	return post{row: row, coll: coll, plains: make([]decrypted, len(coll.Value))}, true
}

// decrypt opens every rich item of the batch's posts on all cores at
// once: RSA unwraps dominate the processor's work. With again, only the
// items that named a certificate we did not hold are tried again.
func (p *Processor) decrypt(ctx context.Context, posts []post, again bool) {
	type job struct{ post, item int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				p.prio.Yield(ctx)
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
			if n.EncryptedContent != nil && (!again || errors.Is(po.plains[k].err, notification.ErrUnknownCertificate)) {
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
func (p *Processor) processItem(ctx context.Context, tx store.Tx, m *memo, row inboxRow, n notification.Notification, dec decrypted, st *Stats) (c store.PresenceChange, ok bool, err error) {
	sub, t, found, err := p.lookup(ctx, tx, m, n)
	if err != nil {
		return c, false, err
	}
	if !found {
		p.drop(m, st, DropUnknownSubscription, row, n, uuid.Nil, nil) // deleted since it was received
		return c, false, nil
	}
	if t.MSTenantID != nil && !strings.EqualFold(n.TenantID, t.MSTenantID.String()) {
		// A subscription's items always come from its own tenant.
		p.drop(m, st, DropTenantMismatch, row, n, sub.TenantID, nil)
		return c, false, nil
	}
	if row.received.After(m.touched[sub.ID]) {
		m.touched[sub.ID] = row.received
	}
	if row.kind == "lifecycle" || n.LifecycleEvent != "" {
		st.Lifecycle++
		return c, false, tx.RecordSubscriptionEvent(ctx, sub.ID, n.LifecycleEvent)
	}
	m.notified = append(m.notified, notified{sub.TenantID, row.received})
	userID := uuid.Nil
	if n.ResourceData != nil && n.ResourceData.ID != "" {
		id, err := uuid.Parse(n.ResourceData.ID)
		if err != nil {
			// Not a user's object id: neither a re-read nor the check that
			// the encrypted presence is this user's is possible.
			p.drop(m, st, DropNoUser, row, n, sub.TenantID, fmt.Errorf("resourceData.id: %w", err))
			return c, false, nil
		}
		userID = id
	}
	switch {
	case n.EncryptedContent == nil:
		// A basic notification says only that something changed (docs/graph.md#basic-and-rich-notifications).
		return c, false, p.resyncOrDrop(ctx, tx, m, st, ResyncBasic, DropNoUser, row, n, sub.TenantID, userID, nil)
	case errors.Is(dec.err, notification.ErrUnknownCertificate):
		// Not ours even after a reload: Graph will not send it again, but
		// a re-read of the user's presence gives what it carried.
		return c, false, p.resyncOrDrop(ctx, tx, m, st, ResyncUnknownCertificate, DropUnknownCertificate, row, n, sub.TenantID, userID, dec.err)
	case dec.err != nil:
		p.drop(m, st, DropNotDecrypted, row, n, sub.TenantID, dec.err)
		return c, false, nil
	}
	var pr notification.Presence
	if err := notification.Unmarshal(dec.plain, &pr); err != nil || pr.Availability == "" {
		p.drop(m, st, DropMalformed, row, n, sub.TenantID, err)
		return c, false, nil
	}
	id, err := uuid.Parse(pr.ID)
	if err != nil || (userID != uuid.Nil && id != userID) {
		// The encrypted resource must be the user the item names.
		p.drop(m, st, DropUserMismatch, row, n, sub.TenantID, err)
		return c, false, nil
	}
	rules, rich := m.rules[sub.TenantID], presence.RichOf(pr.RichPresence)
	return store.PresenceChange{TenantID: sub.TenantID, UserID: id,
		Availability: pr.Availability, Activity: pr.Activity, Rich: rich, GraphSequence: pr.SequenceNumber,
		MappedState: string(rules.Map(pr.Availability, pr.Activity, rich)), Source: "notification", ObservedAt: row.received,
		Debounce: time.Duration(rules.Debounce)}, true, nil
}

// prefetch looks up, into m, the subscription, tenant, rules and app of
// every item: the batch's subscriptions in one statement and their
// tenants in another, however many there are. At a million users over
// 2,540 subscriptions a batch's items name nearly as many subscriptions
// and tenants as items, and a query for each took 51,000 of the 60,000
// lookups' round trips at 100,000 users and 1,000 changes a second (issue
// 16). The subscriptions are found as the door finds them
// (store.SubscriptionKeys): by Graph id or, for one still being made
// (Graph may notify before its id is stored), by its clientState.
func (p *Processor) prefetch(ctx context.Context, tx store.Tx, m *memo, posts []post) error {
	var queries []store.SubscriptionQuery
	named := map[string]bool{}
	for _, po := range posts {
		for _, n := range po.coll.Value {
			if _, ok := m.subs[n.SubscriptionID]; !ok && !named[n.SubscriptionID] {
				named[n.SubscriptionID] = true
				queries = append(queries, store.SubscriptionQuery{GraphID: n.SubscriptionID, ClientStateHash: store.ClientStateHash(n.ClientState)})
			}
		}
	}
	var keys []store.SubscriptionKey
	if len(queries) > 0 {
		var err error
		if keys, err = tx.SubscriptionKeys(ctx, queries); err != nil {
			return err
		}
	}
	var tenants []uuid.UUID
	wanted := map[uuid.UUID]bool{}
	for i, sub := range keys {
		if sub.ID == uuid.Nil {
			continue // none: the item is dropped (lookup)
		}
		m.subs[queries[i].GraphID] = sub
		if _, ok := m.tenants[sub.TenantID]; !ok && !wanted[sub.TenantID] {
			wanted[sub.TenantID] = true
			tenants = append(tenants, sub.TenantID)
		}
	}
	nts, err := tx.TenantsForNotifications(ctx, tenants)
	if err != nil {
		return err
	}
	for _, nt := range nts {
		if err := p.remember(m, nt); err != nil {
			return err
		}
	}
	for _, po := range posts {
		for _, n := range po.coll.Value {
			if _, _, _, err := p.lookup(ctx, tx, m, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookup finds an item's subscription among those prefetch found (found
// false: deleted since it was received) and its tenant with the tenant's
// rules and app, once per batch.
func (p *Processor) lookup(ctx context.Context, tx store.Tx, m *memo, n notification.Notification) (store.SubscriptionKey, store.Tenant, bool, error) {
	sub, found := m.subs[n.SubscriptionID]
	if !found {
		return sub, store.Tenant{}, false, nil
	}
	t, found := m.tenants[sub.TenantID]
	if !found {
		nt, err := tx.TenantForNotifications(ctx, sub.TenantID)
		if err != nil {
			return sub, t, false, err
		}
		if err := p.remember(m, nt); err != nil {
			return sub, t, false, err
		}
		t = nt.Tenant
	}
	return sub, t, true, nil
}

// remember puts a tenant read for the batch into m, with its rules and
// app.
func (p *Processor) remember(m *memo, nt store.NotifiedTenant) error {
	rules, err := p.rulesFor(nt.ID, nt.Rules)
	if err != nil {
		return err
	}
	m.rules[nt.ID] = rules
	if nt.OwnAppID != nil {
		m.apps[nt.ID] = nt.OwnAppID.String()
	}
	m.tenants[nt.ID] = nt.Tenant
	return nil
}

// rulesFor parses a tenant's stored rules, or reuses what it parsed last
// time from the very same text. The batch reads the stored rules with the
// tenant row, so the rules a change is mapped with are those committed
// when its batch began — a PUT applies to the next change, with no time
// to wait and no NOTIFY to race with the PUT's commit. Comparing the text
// itself (a few hundred bytes) is exact where a version stamp such as
// updated_at could tie: now() is the writing transaction's start.
func (p *Processor) rulesFor(tenantID uuid.UUID, raw []byte) (presence.Rules, error) {
	p.mu.Lock()
	c, ok := p.rules[tenantID]
	p.mu.Unlock()
	if ok && bytes.Equal(c.raw, raw) {
		return c.rules, nil
	}
	r, err := store.DecodeRules(tenantID, raw)
	if err != nil {
		return r, err
	}
	p.mu.Lock()
	p.rules[tenantID] = cachedRules{raw: bytes.Clone(raw), rules: r}
	p.mu.Unlock()
	return r, nil
}
