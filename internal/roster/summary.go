package roster

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Summary is a tenant's roster for display: where it comes from, how many
// users are in each state, and every user that is not monitored or not
// yet resolved, with the reason. Total counts entries, not monitored
// users: Users splits them.
type Summary struct {
	Source   store.RosterSource
	Total    int
	Counts   map[string]int // by resolution status; every status present
	Users    store.UserCounts
	Problems []store.DirectoryUser
}

// Summary reads the tenant's roster summary.
func (r *Roster) Summary(ctx context.Context, tenantID uuid.UUID) (Summary, error) {
	src, err := r.st.TenantRosterSource(ctx, tenantID)
	if err != nil {
		return Summary{}, err
	}
	counts, err := r.st.DirectoryCounts(ctx, tenantID)
	if err != nil {
		return Summary{}, err
	}
	users, err := r.st.UserCountsOf(ctx, tenantID)
	if err != nil {
		return Summary{}, err
	}
	problems, err := r.st.DirectoryUsers(ctx, tenantID, true)
	if err != nil {
		return Summary{}, fmt.Errorf("roster summary of %s: %w", tenantID, err)
	}
	s := Summary{Source: src, Counts: map[string]int{}, Users: users, Problems: problems}
	for _, st := range []string{store.UserPending, store.UserResolved, store.UserNotFound, store.UserDisabled, store.UserDuplicate} {
		s.Counts[st] = counts[st]
		s.Total += counts[st]
	}
	return s, nil
}
