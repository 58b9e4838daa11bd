package roster

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Choice is a whole roster as an admin chooses it (the onboarding form,
// later the API and portal): the members of one Entra group, or a list of
// entries checked by Entries, ParseList or ParseCSV.
type Choice struct {
	// Group, when set, is the Entra group's object id; Entries are then
	// ignored.
	Group   *uuid.UUID
	Entries []Entry
	Source  string // store.SourceList (default) or store.SourceCSV
}

// Choose makes c the tenant's whole roster inside tx, the caller's
// transaction (the form is saved with its audit entry in the same one).
// A group becomes the roster's source and its rows are left to the
// engine's next roster pass (SyncGroup reads the group in full and
// replaces every row); choosing the group already followed keeps its
// delta link. A list ends any group roster and replaces the rows: entries
// not yet on the roster are added to resolve, the others removed.
func (r *Roster) Choose(ctx context.Context, tx store.Tx, tenantID uuid.UUID, c Choice) (ImportResult, error) {
	res, err := r.choose(ctx, tx, tenantID, c)
	if err != nil {
		return ImportResult{}, fmt.Errorf("choose roster of %s: %w", tenantID, err)
	}
	return res, nil
}

func (r *Roster) choose(ctx context.Context, tx store.Tx, tenantID uuid.UUID, c Choice) (ImportResult, error) {
	if err := tx.LockRoster(ctx, tenantID); err != nil {
		return ImportResult{}, err
	}
	src, err := tx.TenantRosterSource(ctx, tenantID)
	if err != nil {
		return ImportResult{}, err
	}
	if c.Group != nil {
		if src.Kind == store.SourceGroup && src.GroupID != nil && *src.GroupID == *c.Group {
			return ImportResult{}, nil
		}
		return ImportResult{}, tx.SetRosterSource(ctx, tenantID, c.Group)
	}
	if src.Kind == store.SourceGroup {
		if err := tx.SetRosterSource(ctx, tenantID, nil); err != nil {
			return ImportResult{}, err
		}
	}
	return r.importTx(ctx, tx, tenantID, c.Entries, ImportOptions{Source: c.Source, Replace: true})
}
