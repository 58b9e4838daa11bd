package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// RepairStats count what a repair found.
type RepairStats struct {
	Read, Changed int
	// Resent counts users a sync asked for whose presence had not changed:
	// their current state went out again, as a new event.
	Resent int
}

// Repair re-reads users' presence (getPresencesByUserId, graphapi.MaxPresenceIDs ids a call)
// and feeds what differs from what we hold — the status message, out of
// office and work location included — into the same path as
// notifications, marked as source "repair": after a new or recreated
// subscription, an outage, or on the periodic reconciliation. A presence
// older than ours (by Graph's sequenceNumber) changes nothing.
func Repair(ctx context.Context, st *store.Store, r graphapi.PresenceReader, tenantID uuid.UUID, users []string) (RepairStats, error) {
	return reread(ctx, st, r, tenantID, users, nil, false)
}

// heldFor reads what we hold for the users Graph answered for, ps: for
// every user of the tenant when all says they are all its users.
func heldFor(ctx context.Context, st *store.Store, tenantID uuid.UUID, ps []graphapi.Presence, all bool) (map[uuid.UUID]store.HeldPresence, error) {
	if all {
		return st.TenantPresences(ctx, tenantID, len(ps))
	}
	ids := make([]uuid.UUID, 0, len(ps))
	for _, p := range ps {
		if id, perr := uuid.Parse(p.UserID); perr == nil {
			ids = append(ids, id)
		}
	}
	return st.HeldPresences(ctx, tenantID, ids)
}

// reread is Repair where the users in sync are a sync's (POST
// /api/v1/sync): the platform asked for their current state because it
// suspects it lost some, so each of them goes on as a change, source
// "sync", whether or not it differs — a new event through the same path,
// with the user's next sequence (presence.Decide says how the debounce
// treats it). A read older than what we hold (Graph's replicas can lag
// behind its notifications) is not their current state: what we hold is,
// and that is what is sent again. all says users are all the tenant's
// (repairAll): what we hold is then read for the whole tenant in one walk
// (store.TenantPresences), not user by user.
func reread(ctx context.Context, st *store.Store, r graphapi.PresenceReader, tenantID uuid.UUID, users []string, sync map[string]bool, all bool) (RepairStats, error) {
	var stats RepairStats
	if len(users) == 0 {
		return stats, nil
	}
	ps, err := r.GetPresences(ctx, users)
	stats.Read = len(ps)
	if err != nil && len(ps) == 0 {
		return stats, fmt.Errorf("repair: read presence: %w", err)
	}
	rules, rerr := st.TenantRules(ctx, tenantID)
	if rerr != nil {
		return stats, fmt.Errorf("repair: %w", rerr)
	}
	// Only differences go on, and a sync's users: most users have not
	// changed, and a repair of a large tenant must not rewrite every row.
	forced := make(map[uuid.UUID]bool, len(sync))
	for u := range sync {
		if id, perr := uuid.Parse(u); perr == nil {
			forced[id] = true
		}
	}
	held, herr := heldFor(ctx, st, tenantID, ps, all)
	if herr != nil {
		return stats, fmt.Errorf("repair: %w", herr)
	}
	now := time.Now()
	var changes []store.PresenceChange
	var differs []bool // by change: not the state we hold
	for _, p := range ps {
		id, perr := uuid.Parse(p.UserID)
		if perr != nil || p.Availability == "" || p.Availability == "PresenceUnknown" {
			continue
		}
		c := store.PresenceChange{TenantID: tenantID, UserID: id, Availability: p.Availability, Activity: p.Activity,
			Rich: presence.RichOf(p.Rich), GraphSequence: p.SequenceNumber, Source: "repair", ObservedAt: now,
			Debounce: time.Duration(rules.Debounce)}
		h, ok := held[id]
		differ := !ok || h.Availability != c.Availability || h.Activity != c.Activity || !h.Rich.Same(c.Rich)
		switch {
		case forced[id]:
			if ok && presence.Older(c.GraphSequence, h.GraphSequence) {
				c.Availability, c.Activity, c.Rich, c.GraphSequence, differ = h.Availability, h.Activity, h.Rich, h.GraphSequence, false
			}
			c.Source, c.Force = "sync", true
		case !differ:
			continue
		}
		c.MappedState = string(rules.Map(c.Availability, c.Activity, c.Rich))
		changes, differs = append(changes, c), append(differs, differ)
	}
	// One batch, one statement: applying takes the tenant's stream lock
	// until commit, and live notifications of the tenant wait for it.
	txErr := st.InTx(ctx, func(tx store.Tx) error {
		outcomes, _, aerr := tx.ApplyPresenceBatch(ctx, changes)
		for i, o := range outcomes {
			switch {
			case o != store.PresenceApplied:
			case differs[i]:
				stats.Changed++
			default:
				stats.Resent++
			}
		}
		return aerr
	})
	if txErr != nil {
		return stats, txErr
	}
	return stats, err // a partial read is reported after what was read is applied
}
