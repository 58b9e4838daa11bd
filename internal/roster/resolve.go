package roster

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// resolveChunk is how many pending users one round hands to ResolveUsers
// and records in one transaction: two full $batch requests (300 lookups
// each: 20 filters of 15).
const resolveChunk = 600

// ResolveResult counts a resolution run's outcomes. Retry users stayed
// pending because Graph was throttling or failing (RetryErr is one such
// error, RetryAfter the longest wait Graph asked for); the run stops at
// the first chunk that was throttled, leaving the rest for the next run.
type ResolveResult struct {
	Resolved, NotFound, Disabled, Duplicate, Retry int
	RetryAfter                                     time.Duration
	RetryErr                                       error
}

// Resolve looks up the tenant's pending users in Graph, in entry order,
// each at most once per run, and records for each: resolved (object id,
// display name, Graph's UPN), not_found, disabled (not monitored), or
// duplicate when an earlier entry already stands for the same user (the
// later entry names the earlier one). Throttling and server errors leave
// users pending and are counted, never taken for "not found". A refused
// token (401/403) stops the run with an error: a person must act.
func (r *Roster) Resolve(ctx context.Context, tenantID uuid.UUID, dir Directory) (ResolveResult, error) {
	var res ResolveResult
	var after int64
	for {
		pending, err := r.st.PendingDirectoryUsers(ctx, tenantID, after, resolveChunk)
		if err != nil || len(pending) == 0 {
			return res, err
		}
		after = pending[len(pending)-1].Seq
		lookups := make([]string, len(pending))
		for i, p := range pending {
			lookups[i] = p.Lookup
		}
		found, failed := dir.ResolveUsers(ctx, lookups)
		var authErr error
		err = r.st.InTx(ctx, func(tx store.Tx) error {
			if err := tx.LockRoster(ctx, tenantID); err != nil {
				return err
			}
			outcomes, err := r.decide(ctx, tx, tenantID, pending, found, failed, &res)
			if err != nil {
				return err
			}
			authErr = firstAuthError(failed)
			return tx.RecordResolutions(ctx, tenantID, outcomes)
		})
		if err != nil {
			return res, fmt.Errorf("resolve roster of %s: %w", tenantID, err)
		}
		if authErr != nil {
			return res, fmt.Errorf("resolve roster of %s: Graph refused the token: %w", tenantID, authErr)
		}
		if res.RetryAfter > 0 || graphapi.IsThrottled(res.RetryErr) {
			return res, nil // Graph asked us to slow down: the rest waits for the next run
		}
	}
}

// decide turns Graph's answers for a chunk into outcomes. Object ids
// already held by other rows, or claimed earlier in the chunk, make
// duplicates.
func (r *Roster) decide(ctx context.Context, tx store.Tx, tenantID uuid.UUID, pending []store.PendingUser,
	found map[string]graphapi.User, failed map[string]error, res *ResolveResult) ([]store.Resolution, error) {
	var oids []uuid.UUID
	for _, u := range found {
		if id, err := uuid.Parse(u.ID); err == nil {
			oids = append(oids, id)
		}
	}
	holders, err := tx.ObjectHolders(ctx, tenantID, oids)
	if err != nil {
		return nil, err
	}
	out := make([]store.Resolution, 0, len(pending))
	for _, p := range pending {
		o := store.Resolution{ID: p.ID}
		u, ok := found[p.Lookup]
		oid, perr := uuid.Parse(u.ID)
		switch {
		case !ok:
			o = failure(p, failed[p.Lookup], res)
		case perr != nil:
			o.Status, o.Error = store.UserNotFound, fmt.Sprintf("Graph answered with an object id that is not a GUID: %q", u.ID)
			res.NotFound++
		default:
			o.GraphUPN, o.Email, o.DisplayName = u.UPN, u.Mail, u.DisplayName
			if h, held := holders[oid]; held && h.ID != p.ID {
				o.Status, o.DuplicateOf = store.UserDuplicate, &h.ID
				o.Error = fmt.Sprintf("same user (%s) as %s", u.UPN, h.UPN)
				res.Duplicate++
				break
			}
			holders[oid] = store.ObjectHolder{ID: p.ID, UPN: p.Lookup}
			o.ObjectID = &oid
			if u.AccountEnabled {
				o.Status = store.UserResolved
				res.Resolved++
			} else {
				o.Status, o.Error = store.UserDisabled, "the account is disabled in Entra ID (accountEnabled is false)"
				res.Disabled++
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// failure is the outcome of a lookup Graph did not answer with a user.
func failure(p store.PendingUser, err error, res *ResolveResult) store.Resolution {
	o := store.Resolution{ID: p.ID}
	switch {
	case err == nil:
		//lint:ignore ST1005 Graph is a name
		err = fmt.Errorf("Graph gave no answer for %s", p.Lookup)
	case graphapi.IsNotFound(err):
		o.Status, o.Error = store.UserNotFound, fmt.Sprintf("no user with UPN or e-mail %s in the directory", p.Lookup)
		res.NotFound++
		return o
	case graphapi.IsBadRequest(err):
		o.Status, o.Error = store.UserNotFound, fmt.Sprintf("Graph refused to look up %s: %v", p.Lookup, err)
		res.NotFound++
		return o
	}
	// Throttled, a server error, a network failure, a refused token: try
	// again next run.
	o.Status, o.Error = store.UserPending, "will retry: "+err.Error()
	res.Retry++
	if res.RetryErr == nil || graphapi.IsThrottled(err) {
		res.RetryErr = err
	}
	res.RetryAfter = max(res.RetryAfter, graphapi.RetryAfter(err))
	return o
}

func firstAuthError(failed map[string]error) error {
	for _, err := range failed {
		if graphapi.IsAuth(err) {
			return err
		}
	}
	return nil
}
