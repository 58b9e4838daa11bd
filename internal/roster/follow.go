package roster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// DirectoryChanges reads Graph's users delta query (*graph.Client).
type DirectoryChanges interface {
	UsersDelta(ctx context.Context, link string) (graphapi.DeltaPage, error)
}

// FollowResult counts what a round of the directory changed.
type FollowResult struct {
	Full    bool  // a full round (first, or after the link expired)
	Seen    int   // accounts the round reported
	Changed int64 // roster rows that changed
}

// maxFollowPages bounds one round (a directory of a million accounts at
// Graph's page size): a round that does not end is an error, not a hang.
const maxFollowPages = 20000

// FollowDirectory follows the tenant's directory with Graph's users delta
// query: accounts resolved earlier that were deleted or disabled since
// stop being monitored (not_found, disabled), restored or re-enabled ones
// are monitored again, and renamed ones keep their new UPN. The first
// round reads the whole directory; later rounds only what changed. A link
// Graph no longer honours (410, or 400 after seven days) starts a full
// round. Each page is applied as read (the updates are idempotent); the
// new delta link is kept only when the round ends.
func (r *Roster) FollowDirectory(ctx context.Context, tenantID uuid.UUID, dir DirectoryChanges, now time.Time) (FollowResult, error) {
	var res FollowResult
	state, err := r.st.DirectoryFollowState(ctx, tenantID)
	if err != nil {
		return res, err
	}
	link := state.DeltaLink
	res.Full = link == ""
	for pages := 0; ; pages++ {
		if pages == maxFollowPages {
			err = fmt.Errorf("users delta round did not end after %d pages", maxFollowPages)
			break
		}
		var page graphapi.DeltaPage
		page, err = dir.UsersDelta(ctx, link)
		if err != nil {
			if e, ok := graphapi.AsError(err); ok && (e.Status == 410 || e.Status == 400) && state.DeltaLink != "" {
				rerr := r.st.RecordDirectoryFollow(ctx, tenantID, "", now, fmt.Errorf("delta link refused, next round reads everyone: %w", err), true)
				return res, errors.Join(err, rerr)
			}
			break
		}
		changes := make([]store.DirectoryChange, 0, len(page.Users)+len(page.Removed))
		for _, u := range page.Users {
			if id, perr := uuid.Parse(u.ID); perr == nil {
				changes = append(changes, store.DirectoryChange{ObjectID: id, Enabled: u.AccountEnabled, UPN: u.UPN})
			}
		}
		for _, u := range page.Removed {
			if id, perr := uuid.Parse(u.ID); perr == nil {
				changes = append(changes, store.DirectoryChange{ObjectID: id, Removed: true})
			}
		}
		res.Seen += len(changes)
		n, aerr := r.st.ApplyDirectoryChanges(ctx, tenantID, changes)
		res.Changed += n
		if aerr != nil {
			return res, aerr
		}
		if page.DeltaLink != "" {
			return res, r.st.RecordDirectoryFollow(ctx, tenantID, page.DeltaLink, now, nil, false)
		}
		if page.NextLink == "" || page.NextLink == link {
			err = errors.New("users delta page without a next or delta link")
			break
		}
		link = page.NextLink
	}
	err = fmt.Errorf("follow the directory of %s: %w", tenantID, err)
	return res, errors.Join(err, r.st.RecordDirectoryFollow(ctx, tenantID, "", now, err, false))
}
