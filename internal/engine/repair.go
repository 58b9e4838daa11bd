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
}

// Repair re-reads users' presence (getPresencesByUserId, graphapi.MaxPresenceIDs ids a call)
// and feeds what differs from what we hold — the status message, out of
// office and work location included — into the same path as
// notifications, marked as source "repair": after a new or recreated
// subscription, an outage, or on the periodic reconciliation. A presence
// older than ours (by Graph's sequenceNumber) changes nothing.
func Repair(ctx context.Context, st *store.Store, r graphapi.PresenceReader, tenantID uuid.UUID, users []string) (RepairStats, error) {
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
	// Only differences go on: most users have not changed, and a repair of
	// a large tenant must not rewrite every row.
	ids := make([]uuid.UUID, 0, len(ps))
	for _, p := range ps {
		if id, perr := uuid.Parse(p.UserID); perr == nil {
			ids = append(ids, id)
		}
	}
	held, herr := st.HeldPresences(ctx, tenantID, ids)
	if herr != nil {
		return stats, fmt.Errorf("repair: %w", herr)
	}
	now := time.Now()
	var changes []store.PresenceChange
	for _, p := range ps {
		id, perr := uuid.Parse(p.UserID)
		if perr != nil || p.Availability == "" || p.Availability == "PresenceUnknown" {
			continue
		}
		rich := presence.RichOf(p.Rich)
		if h, ok := held[id]; ok && h.Availability == p.Availability && h.Activity == p.Activity && h.Rich.Same(rich) {
			continue
		}
		changes = append(changes, store.PresenceChange{TenantID: tenantID, UserID: id,
			Availability: p.Availability, Activity: p.Activity, Rich: rich, GraphSequence: p.SequenceNumber,
			MappedState: string(rules.Map(p.Availability, p.Activity, rich)), Source: "repair", ObservedAt: now,
			Debounce: time.Duration(rules.Debounce)})
	}
	// One batch, one statement: applying takes the tenant's stream lock
	// until commit, and live notifications of the tenant wait for it.
	txErr := st.InTx(ctx, func(tx store.Tx) error {
		outcomes, _, aerr := tx.ApplyPresenceBatch(ctx, changes)
		for _, o := range outcomes {
			if o == store.PresenceApplied {
				stats.Changed++
			}
		}
		return aerr
	})
	if txErr != nil {
		return stats, txErr
	}
	return stats, err // a partial read is reported after what was read is applied
}
