// Package roster keeps each tenant's list of users to monitor: entries from
// the API, the form or a CSV, or the members of one Entra group followed
// with Graph's delta query; every entry resolved to a Graph object id in
// batches, with the reason shown for each one that could not be (not found,
// disabled, a duplicate of another entry).
//
// The engine (internal/engine) monitors the rows resolved here; rows
// removed take their monitor assignment with them.
package roster

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// Directory is what the roster asks of Microsoft Graph; *graph.Client
// with an app-only token for the tenant provides it.
type Directory interface {
	ResolveUsers(ctx context.Context, upnsOrMails []string) (map[string]graphapi.User, map[string]error)
	GroupMembers(ctx context.Context, groupID string) ([]graphapi.User, error)
	GroupMembersDelta(ctx context.Context, groupID, link string) (graphapi.GroupDeltaPage, error)
}

// ErrGroupRoster: the tenant's roster is an Entra group, so entries are
// not added or removed by hand.
var ErrGroupRoster = errors.New("the roster follows an Entra group; change the group's members instead")

// Roster keeps tenants' rosters in the store.
type Roster struct {
	st *store.Store
}

// New returns a Roster over st.
func New(st *store.Store) *Roster { return &Roster{st: st} }

// UseGroup makes the Entra group the tenant's roster; the next SyncGroup
// reads it in full and replaces every row.
func (r *Roster) UseGroup(ctx context.Context, tenantID, groupID uuid.UUID) error {
	return r.st.SetRosterSource(ctx, tenantID, &groupID)
}

// UseList makes the roster a list kept by hand again; the rows stay.
func (r *Roster) UseList(ctx context.Context, tenantID uuid.UUID) error {
	return r.st.SetRosterSource(ctx, tenantID, nil)
}

// ImportOptions say where entries come from and whether they are the
// whole list.
type ImportOptions struct {
	Source string // store.SourceList or store.SourceCSV
	// Replace removes the users not among the entries.
	Replace bool
}

// ImportResult counts what an import did: entries added, entries that
// changed a user already there (another telephony id, or a failed lookup
// to try again), entries that changed nothing, and users removed.
type ImportResult struct {
	Added, Updated, Unchanged, Removed int
}

// Import adds or updates entries (checked by Entries or ParseCSV) as users
// to resolve; Resolve then looks them up.
func (r *Roster) Import(ctx context.Context, tenantID uuid.UUID, entries []Entry, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	err := r.inListTx(ctx, tenantID, func(tx store.Tx) (err error) {
		res, err = r.importTx(ctx, tx, tenantID, entries, opts)
		return err
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import roster of %s: %w", tenantID, err)
	}
	return res, nil
}

// importTx writes entries in tx, under the roster lock the caller holds.
func (r *Roster) importTx(ctx context.Context, tx store.Tx, tenantID uuid.UUID, entries []Entry, opts ImportOptions) (ImportResult, error) {
	if opts.Source == "" {
		opts.Source = store.SourceList
	}
	rows := make([]store.DirectoryEntry, len(entries))
	upns := make([]string, len(entries))
	for i, e := range entries {
		rows[i], upns[i] = store.DirectoryEntry{UPN: e.UPN, ExternalID: e.TelephonyID}, e.UPN
	}
	up, err := tx.UpsertDirectoryUsers(ctx, tenantID, opts.Source, rows)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Added: up.Added, Updated: up.Updated, Unchanged: up.Unchanged}
	if opts.Replace {
		if res.Removed, err = tx.RemoveDirectoryUsersExcept(ctx, tenantID, upns); err != nil {
			return ImportResult{}, err
		}
	}
	return res, nil
}

// Remove takes users (UPNs or addresses as entered) off the roster.
func (r *Roster) Remove(ctx context.Context, tenantID uuid.UUID, upns []string) (int, error) {
	var n int
	err := r.inListTx(ctx, tenantID, func(tx store.Tx) (err error) {
		n, err = tx.RemoveDirectoryUsers(ctx, tenantID, upns)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("remove from roster of %s: %w", tenantID, err)
	}
	return n, nil
}

// inListTx runs f under the tenant's roster lock, refusing a group roster.
func (r *Roster) inListTx(ctx context.Context, tenantID uuid.UUID, f func(store.Tx) error) error {
	return r.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.LockRoster(ctx, tenantID); err != nil {
			return err
		}
		src, err := tx.TenantRosterSource(ctx, tenantID)
		if err != nil {
			return err
		}
		if src.Kind == store.SourceGroup {
			return ErrGroupRoster
		}
		return f(tx)
	})
}
