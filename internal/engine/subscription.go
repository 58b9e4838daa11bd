package engine

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// Lifetime asked for a presence subscription (Graph's maximum is 60 min).
const Lifetime = 55 * time.Minute

// Renewals. Each subscription renews every RenewEvery at points of its
// own in absolute time — a phase taken from its id — and never later than
// RenewLatest before its expiry (renewDue). Renewal points tied to expiry
// alone (a jittered point 10–20 minutes before it, until December 2026)
// repeat the creation times: after a cold start that makes every
// subscription within minutes, 1,540 subscriptions renewed in the same ten
// minutes of the first hours — max/mean of renewals per minute 6.7 in the
// first hour and 3.3 in the second
// (TestRenewalsOf1540SubscriptionsMadeWithinThreeMinutesSpreadEvenlyOverEveryHour),
// 14.9 in the first hour of the fleet test in internal/engine/enginetest —
// and a restart that found them all due bunched them again. Phases spread
// them evenly from the first hour on, and put them back on their phases at
// the first renewal after a restart.
//
// RenewEvery is Lifetime − RenewLatest less 5 minutes: a subscription just
// made or renewed is due no sooner than 5 minutes later, and in the steady
// state it renews 15 minutes before expiry (55 − 40).
const (
	RenewLatest = 10 * time.Minute
	RenewEvery  = 40 * time.Minute
)

// Engine keeps each presence monitor's Graph subscription alive
// and covering exactly the users assigned to it (docs/graph.md#presence-subscriptions, docs/graph.md#lifecycle-notifications):
//
//   - none yet, or gone (404), or expired: create one, recording its
//     clientState hash and certificate before Graph is asked, since Graph
//     may notify before it answers;
//   - the users changed: Graph has no documented way to change a
//     subscription's resource, so create the new one and delete the old
//     (a user may hold one presence subscription per app, so the old one
//     goes first when Graph says 409);
//   - due for renewal (every RenewEvery at the subscription's own phase,
//     never later than RenewLatest before expiry; or at once when an admin
//     pressed Renew): PATCH the expiry, which also reauthorizes;
//   - on an encryption certificate that is no longer the active one: at
//     the renewal point, replaced by one on the active certificate;
//   - 409 on create: a subscription of ours that we can still verify (its
//     clientState hash is stored) is adopted; anything else is deleted and
//     the create retried.
//
// Every time coverage may have had a gap (new or recreated subscription)
// the caller is told to repair by re-reading presence.
type Engine struct {
	st           *store.Store
	certs        *certs.Manager
	notifyURL    string
	lifecycleURL string
	now          func() time.Time
}

// New returns an Engine; notifyURL and lifecycleURL are our receiver's
// public URLs (…/graph/notifications, …/graph/lifecycle).
func New(st *store.Store, cm *certs.Manager, notifyURL, lifecycleURL string, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	return &Engine{st: st, certs: cm, notifyURL: notifyURL, lifecycleURL: lifecycleURL, now: now}
}

// Outcome says what Ensure did.
type Outcome string

// Outcomes.
const (
	Unchanged Outcome = "unchanged"
	Created   Outcome = "created" // coverage may have had a gap: repair
	Renewed   Outcome = "renewed"
	Replaced  Outcome = "replaced" // new users or a lost subscription: repair
	Adopted   Outcome = "adopted"  // a 409 named one of ours
	Removed   Outcome = "removed"  // no users left
)

// Ensure makes the monitor's subscription cover exactly users, using g
// (a Graph client acting as the monitor).
func (e *Engine) Ensure(ctx context.Context, g graphapi.Subscriber, tenantID, monitorID uuid.UUID, users []string) (Outcome, error) {
	users = orderFor(monitorID, users)
	resource := graphapi.PresenceResource(users)
	cur, err := e.st.SubscriptionForMonitor(ctx, tenantID, monitorID)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrSubscriptionNotFound) {
		return "", err
	}
	if len(users) == 0 {
		if exists {
			return Removed, e.remove(ctx, g, cur)
		}
		return Unchanged, nil
	}
	now := e.now()
	switch {
	case !exists || cur.GraphID == "" || cur.ExpiresAt == nil || !now.Before(*cur.ExpiresAt):
		if exists && cur.GraphID != "" {
			_ = g.DeleteSubscription(ctx, cur.GraphID) // expired or half-made: make sure Graph forgets it
		}
		out, err := e.create(ctx, g, tenantID, monitorID, resource, len(users))
		if out == Created && exists {
			out = Replaced
		}
		return out, err
	case cur.Resource != resource:
		// The user set changed: one presence subscription per user and app,
		// so the old goes before the new (the gap is repaired by the caller).
		if err := g.DeleteSubscription(ctx, cur.GraphID); err != nil && !graphapi.IsNotFound(err) {
			return "", fmt.Errorf("engine: delete the old subscription: %w", err)
		}
		if _, err := e.create(ctx, g, tenantID, monitorID, resource, len(users)); err != nil {
			return "", err
		}
		return Replaced, nil
	case !now.Before(renewDue(cur.ID, *cur.ExpiresAt)) || cur.RenewRequested: // due, or an admin's Renew
		// Encryption certificates rotate: a subscription still on an older
		// one is replaced rather than renewed, so the old certificate falls
		// out of use within an hour and can be retired.
		cert, err := e.certs.Active(ctx)
		if err != nil {
			return "", err
		}
		if cur.CertKeyID != cert.ID {
			if err := g.DeleteSubscription(ctx, cur.GraphID); err != nil && !graphapi.IsNotFound(err) {
				return "", fmt.Errorf("engine: delete a subscription on an old certificate: %w", err)
			}
			if _, err := e.create(ctx, g, tenantID, monitorID, resource, len(users)); err != nil {
				return "", err
			}
			return Replaced, nil
		}
		sub, err := g.RenewSubscription(ctx, cur.GraphID, now.Add(Lifetime))
		if graphapi.IsNotFound(err) { // Graph dropped it: make it again
			if _, err := e.create(ctx, g, tenantID, monitorID, resource, len(users)); err != nil {
				return "", err
			}
			return Replaced, nil
		}
		if err != nil {
			return "", e.failed(ctx, cur.ID, "renew", err)
		}
		return Renewed, e.st.SubscriptionRenewed(ctx, cur.ID, sub.ExpiresAt)
	}
	return Unchanged, nil
}

// orderFor lists users in an order of the monitor's own: Graph refuses a
// second subscription of the same app on the same resource text (409), and
// a monitor taking over a failed monitor's users would otherwise ask for
// exactly the resource the failed one still holds until it expires.
func orderFor(monitorID uuid.UUID, users []string) []string {
	type keyed struct {
		key [20]byte
		id  string
	}
	ks := make([]keyed, len(users))
	for i, u := range users {
		ks[i] = keyed{sha1.Sum([]byte(monitorID.String() + "/" + u)), u}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return bytes.Compare(a.key[:], b.key[:]) })
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.id
	}
	return out
}

// renewDue is when the subscription id, expiring at expires, is renewed:
// the latest of its phase points (its phase plus a whole number of
// RenewEvery from the Unix epoch) that is at least RenewLatest before
// expiry — after expires − RenewLatest − RenewEvery, never after
// expires − RenewLatest.
func renewDue(id uuid.UUID, expires time.Time) time.Time {
	latest := expires.Add(-RenewLatest)
	past := (latest.UnixNano() - int64(renewPhase(id))) % int64(RenewEvery)
	if past < 0 {
		past += int64(RenewEvery)
	}
	return latest.Add(-time.Duration(past))
}

// renewPhase is the subscription's point within RenewEvery: a hash of its
// id (a random UUID, so phases spread evenly over subscriptions), fixed
// for its row (a monitor's row keeps its id when its subscription is made
// again).
func renewPhase(id uuid.UUID) time.Duration {
	h := fnv.New64a()
	h.Write(id[:])
	return time.Duration(h.Sum64() % uint64(RenewEvery))
}

func (e *Engine) create(ctx context.Context, g graphapi.Subscriber, tenantID, monitorID uuid.UUID, resource string, users int) (Outcome, error) {
	cert, err := e.certs.Active(ctx)
	if err != nil {
		return "", err
	}
	clientState, err := newClientState()
	if err != nil {
		return "", err
	}
	// Recorded first: Graph may notify before it answers the create.
	row, err := e.st.BeginSubscription(ctx, tenantID, monitorID, resource, store.ClientStateHash(clientState), cert.ID, users)
	if err != nil {
		return "", err
	}
	spec := graphapi.SubscriptionSpec{Resource: resource, NotificationURL: e.notifyURL, LifecycleNotificationURL: e.lifecycleURL,
		ExpiresAt: e.now().Add(Lifetime), ClientState: clientState, IncludeResourceData: true,
		EncryptionCertificate: base64.StdEncoding.EncodeToString(cert.Certificate.Raw), EncryptionCertificateID: cert.ID}
	sub, err := g.CreateSubscription(ctx, spec)
	if graphapi.IsConflict(err) {
		out, aerr := e.resolveConflict(ctx, g, row, spec, cert.ID)
		if aerr != nil || out == Adopted {
			return out, aerr
		}
		sub, err = g.CreateSubscription(ctx, spec)
	}
	if err != nil {
		return "", e.failed(ctx, row, "create", err)
	}
	return Created, e.st.SubscriptionCreated(ctx, row, sub.ID, sub.ExpiresAt)
}

// failed records err as the subscription's last error (shown on the
// dashboard) and returns it; a failure to record it is returned too.
func (e *Engine) failed(ctx context.Context, row uuid.UUID, what string, err error) error {
	werr := fmt.Errorf("engine: %s: %w", what, err)
	if rerr := e.st.SubscriptionFailed(ctx, row, err.Error()); rerr != nil {
		return errors.Join(werr, fmt.Errorf("engine: recording the %s failure: %w", what, rerr))
	}
	return werr
}

// resolveConflict handles 409: this monitor already holds a presence
// subscription for our app (say we crashed between Graph's answer and our
// commit). One that watches what we want, with our current certificate and
// a clientState Graph shows us, is adopted (its clientState's hash becomes
// the row's); any other is deleted so the create can be retried.
func (e *Engine) resolveConflict(ctx context.Context, g graphapi.Subscriber, row uuid.UUID, spec graphapi.SubscriptionSpec, certID string) (Outcome, error) {
	subs, err := g.ListSubscriptions(ctx)
	if err != nil {
		return "", fmt.Errorf("engine: list after 409: %w", err)
	}
	for _, s := range subs {
		if s.Resource == spec.Resource && s.ClientState != "" && s.IncludeResourceData && s.EncryptionCertificateID == certID {
			err := e.st.AdoptSubscription(ctx, row, s.ID, store.ClientStateHash(s.ClientState), s.ExpiresAt)
			return Adopted, err
		}
		if err := g.DeleteSubscription(ctx, s.ID); err != nil && !graphapi.IsNotFound(err) {
			return "", fmt.Errorf("engine: delete the conflicting subscription: %w", err)
		}
	}
	return Replaced, nil
}

// RetireCertificates retires encryption certificates no subscription uses
// any more (the active one stays).
func (e *Engine) RetireCertificates(ctx context.Context) (int64, error) { return e.certs.Retire(ctx) }

func (e *Engine) remove(ctx context.Context, g graphapi.Subscriber, cur store.SubscriptionState) error {
	if cur.GraphID != "" {
		if err := g.DeleteSubscription(ctx, cur.GraphID); err != nil && !graphapi.IsNotFound(err) {
			return fmt.Errorf("engine: delete: %w", err)
		}
	}
	return e.st.DropSubscriptionRow(ctx, cur.ID)
}

// newClientState is 256 random bits: the secret that authenticates
// Graph's notifications for one subscription (stored only as a hash).
func newClientState() (string, error) {
	b := make([]byte, 32)
	if _, err := cryptorand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
