package roster

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// ErrListRoster: SyncGroup was asked of a tenant whose roster is a list.
var ErrListRoster = errors.New("the roster is a list, not an Entra group")

// SyncResult says what a group sync did. Full is a complete read (the
// first sync, an expired delta link, or a group with nested groups, whose
// members group delta does not report); otherwise only the delta was
// applied.
type SyncResult struct {
	Full            bool
	Nested          bool
	Added, Removed  int
	Pending         int // members whose lookup failed for now: resolved later by Resolve
	SkippedNotFound int // members Graph no longer finds (deleted meanwhile)
}

// SyncGroup brings a group roster up to date: the first time (or after
// UseGroup) with a full round of Graph's group delta query, then with
// delta rounds from the stored link, adding members who joined and
// removing those who left, with their monitor assignments. Only the
// round's end is applied, in one transaction with its new delta link, so
// a failure midway leaves the roster and link as they were. Members come
// as ids; they are looked up in batches for their UPN and whether the
// account is enabled. The outcome (or error) is recorded on the source for
// display.
func (r *Roster) SyncGroup(ctx context.Context, tenantID uuid.UUID, dir Directory) (SyncResult, error) {
	src, err := r.st.TenantRosterSource(ctx, tenantID)
	if err != nil {
		return SyncResult{}, err
	}
	if src.Kind != store.SourceGroup {
		return SyncResult{}, ErrListRoster
	}
	res, err := r.syncGroup(ctx, tenantID, src, dir)
	if err != nil {
		err = fmt.Errorf("sync roster group %s of %s: %w", src.GroupID, tenantID, err)
		if rerr := r.st.RecordGroupSync(context.WithoutCancel(ctx), tenantID, "", false, err); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return res, err
}

// memberState is a member's last state in a round.
type memberState struct {
	removed bool
	order   int
}

func (r *Roster) syncGroup(ctx context.Context, tenantID uuid.UUID, src store.RosterSource, dir Directory) (SyncResult, error) {
	group := src.GroupID.String()
	res := SyncResult{Full: src.DeltaLink == "", Nested: src.Nested}
	users, nested, removedGroup, link, err := readRound(ctx, dir, group, src.DeltaLink)
	if err != nil && src.DeltaLink != "" && (graphapi.IsBadRequest(err) || graphapi.IsNotFound(err) || isGone(err)) {
		// The link expired (7 days) or Graph lost its state: read in full.
		res.Full = true
		users, nested, removedGroup, link, err = readRound(ctx, dir, group, "")
	}
	if err != nil {
		return res, err
	}
	if removedGroup {
		return res, errors.New("the group was deleted in Entra ID; choose another group or a list")
	}
	res.Nested = res.Nested || nested
	var members []store.GroupMember
	var gone []uuid.UUID
	switch {
	case res.Nested:
		// Group delta shows a nested group, not its members: read the
		// flattened membership in full, each time.
		res.Full = true
		all, err := dir.GroupMembers(ctx, group)
		if err != nil {
			return res, err
		}
		for _, u := range all {
			if m, ok := memberOf(u); ok {
				members = append(members, m)
			}
		}
	default:
		var ids []string
		for id, st := range users {
			if st.removed {
				if oid, err := uuid.Parse(id); err == nil {
					gone = append(gone, oid)
				}
				continue
			}
			ids = append(ids, id)
		}
		members, err = lookUpMembers(ctx, dir, ids, &res)
		if err != nil {
			return res, err
		}
	}
	err = r.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.LockRoster(ctx, tenantID); err != nil {
			return err
		}
		if cur, err := tx.TenantRosterSource(ctx, tenantID); err != nil || cur.GroupID == nil || *cur.GroupID != *src.GroupID {
			return errors.Join(err, errors.New("the roster source changed during the sync"))
		}
		var err error
		if res.Full {
			ids := make([]uuid.UUID, len(members))
			for i, m := range members {
				ids[i] = m.ObjectID
			}
			there, herr := tx.ObjectHolders(ctx, tenantID, ids)
			if herr != nil {
				return herr
			}
			res.Added = len(members) - len(there)
			if res.Removed, err = tx.ReplaceWithGroupMembers(ctx, tenantID, members); err != nil {
				return err
			}
		} else {
			if err = tx.UpsertGroupMembers(ctx, tenantID, members); err != nil {
				return err
			}
			res.Added = len(members)
			if res.Removed, err = tx.RemoveDirectoryUsersByObjectID(ctx, tenantID, gone); err != nil {
				return err
			}
		}
		return tx.RecordGroupSync(ctx, tenantID, link, res.Nested, nil)
	})
	return res, err
}

// readRound follows a delta round to its end and returns each user member's
// last state, whether a nested group is (or was added as) a member, and
// the new delta link.
func readRound(ctx context.Context, dir Directory, group, link string) (map[string]memberState, bool, bool, string, error) {
	users := map[string]memberState{}
	nested, removedGroup := false, false
	for pages := 0; ; pages++ {
		page, err := dir.GroupMembersDelta(ctx, group, link)
		if err != nil {
			return nil, false, false, "", err
		}
		removedGroup = removedGroup || page.GroupRemoved
		for _, m := range page.Members {
			switch m.Type {
			case "user":
				users[m.ID] = memberState{removed: m.Removed, order: len(users)}
			case "group":
				nested = nested || !m.Removed
			}
		}
		if page.DeltaLink != "" {
			return users, nested, removedGroup, page.DeltaLink, nil
		}
		if page.NextLink == "" || page.NextLink == link {
			return nil, false, false, "", errors.New("group delta page without a next or delta link")
		}
		link = page.NextLink
	}
}

// lookUpMembers reads members' UPNs and account state in batches. A member
// Graph no longer finds is skipped (it left the directory meanwhile; the
// next round says so); one that failed for now is kept as pending, to be
// resolved by Resolve.
func lookUpMembers(ctx context.Context, dir Directory, ids []string, res *SyncResult) ([]store.GroupMember, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, failed := dir.ResolveUsers(ctx, ids)
	if err := firstAuthError(failed); err != nil {
		return nil, err
	}
	out := make([]store.GroupMember, 0, len(ids))
	for _, id := range ids {
		oid, err := uuid.Parse(id)
		if err != nil {
			continue
		}
		if u, ok := found[id]; ok {
			if m, ok := memberOf(u); ok {
				out = append(out, m)
			}
			continue
		}
		ferr := failed[id]
		if graphapi.IsNotFound(ferr) {
			res.SkippedNotFound++
			continue
		}
		msg := "will retry the lookup"
		if ferr != nil {
			msg += ": " + ferr.Error()
		}
		out = append(out, store.GroupMember{ObjectID: oid, Status: store.UserPending, Error: msg})
		res.Pending++
	}
	return out, nil
}

func memberOf(u graphapi.User) (store.GroupMember, bool) {
	oid, err := uuid.Parse(u.ID)
	if err != nil {
		return store.GroupMember{}, false
	}
	m := store.GroupMember{ObjectID: oid, UPN: u.UPN, Email: u.Mail, DisplayName: u.DisplayName, Status: store.UserResolved}
	if !u.AccountEnabled {
		m.Status, m.Error = store.UserDisabled, "the account is disabled in Entra ID (accountEnabled is false)"
	}
	return m, true
}

func isGone(err error) bool {
	e, ok := graphapi.AsError(err)
	return ok && e.Status == 410
}
