package roster

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// The changes someone makes to a roster — a portal admin on the Users
// page, an API key through the tenant API. Each commits in one
// transaction with its audit entry naming actor ("portal:<oid>",
// "apikey:<id>"), so neither exists without the other, and every surface
// records the same action with the same detail.

// Add adds or updates entries (checked by Entries or ParseList) on a
// list roster (audited "users.upserted"); a group roster is
// ErrGroupRoster.
func (r *Roster) Add(ctx context.Context, tenantID uuid.UUID, actor string, entries []Entry) (ImportResult, error) {
	var res ImportResult
	err := r.audited(ctx, tenantID, actor, "users.upserted", func(tx *Roster, _ store.Tx) (detail map[string]any, err error) {
		if res, err = tx.Import(ctx, tenantID, entries, ImportOptions{Source: store.SourceList}); err != nil {
			return nil, err
		}
		return map[string]any{"entries": len(entries), "added": res.Added, "updated": res.Updated, "unchanged": res.Unchanged}, nil
	})
	return res, err
}

// Replace makes entries (from source: store.SourceList or
// store.SourceCSV) the whole roster, ending any group roster (audited
// "roster.replaced").
func (r *Roster) Replace(ctx context.Context, tenantID uuid.UUID, actor string, entries []Entry, source string) (ImportResult, error) {
	var res ImportResult
	err := r.audited(ctx, tenantID, actor, "roster.replaced", func(tx *Roster, stx store.Tx) (detail map[string]any, err error) {
		if res, err = tx.Choose(ctx, stx, tenantID, Choice{Entries: entries, Source: source}); err != nil {
			return nil, err
		}
		return map[string]any{"source": source, "entries": len(entries), "added": res.Added, "updated": res.Updated,
			"unchanged": res.Unchanged, "removed": res.Removed}, nil
	})
	return res, err
}

// SetSource makes the roster follow the Entra group (the engine's next
// roster pass reads its members) or, with group nil, a list kept by hand
// that keeps the rows there (audited "roster_source.updated"). It returns
// the source as it is after.
func (r *Roster) SetSource(ctx context.Context, tenantID uuid.UUID, actor string, group *uuid.UUID) (store.RosterSource, error) {
	var src store.RosterSource
	kind := store.SourceList
	if group != nil {
		kind = store.SourceGroup
	}
	err := r.audited(ctx, tenantID, actor, "roster_source.updated", func(tx *Roster, stx store.Tx) (map[string]any, error) {
		var err error
		if group != nil {
			_, err = tx.Choose(ctx, stx, tenantID, Choice{Group: group})
		} else {
			err = tx.UseList(ctx, tenantID)
		}
		if err != nil {
			return nil, err
		}
		if src, err = stx.TenantRosterSource(ctx, tenantID); err != nil {
			return nil, err
		}
		return map[string]any{"kind": kind, "groupId": group}, nil
	})
	return src, err
}

// RemoveUser takes the user ref (object id, or UPN as entered) off a
// list roster (audited "user.removed") and returns who it was:
// store.ErrUserNotFound when no such user is on it, ErrGroupRoster when
// the roster is a group's.
func (r *Roster) RemoveUser(ctx context.Context, tenantID uuid.UUID, actor, ref string) (store.DirectoryUser, error) {
	var u store.DirectoryUser
	if !store.Storable(ref) {
		return u, store.ErrUserNotFound // no entry holds it, and the query would fail on it
	}
	err := r.audited(ctx, tenantID, actor, "user.removed", func(tx *Roster, stx store.Tx) (detail map[string]any, err error) {
		if u, err = stx.FindDirectoryUser(ctx, tenantID, ref); err != nil {
			return nil, err
		}
		if _, err := tx.Remove(ctx, tenantID, []string{u.UPN}); err != nil {
			return nil, err
		}
		return map[string]any{"upn": u.UPN, "objectId": u.ObjectID}, nil
	})
	return u, err
}

// audited runs change over a roster in one transaction and appends its
// audit entry, action with change's detail, in the same one.
func (r *Roster) audited(ctx context.Context, tenantID uuid.UUID, actor, action string,
	change func(tx *Roster, stx store.Tx) (map[string]any, error)) error {
	err := r.st.InTx(ctx, func(stx store.Tx) error {
		detail, err := change(New(stx.Store), stx)
		if err != nil {
			return err
		}
		return stx.Audit(ctx, &tenantID, actor, action, detail)
	})
	if err != nil {
		return fmt.Errorf("%s by %s: %w", action, actor, err)
	}
	return nil
}
