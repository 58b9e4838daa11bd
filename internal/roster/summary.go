package roster

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// SummaryProblems is how many of the roster's problem entries a Summary
// lists: enough to say what is wrong at a glance; the Users page lists
// them all, a page at a time.
const SummaryProblems = 20

// Summary is a tenant's roster for display: where it comes from, how many
// users are in each state, and the first SummaryProblems entries that are
// not resolved yet or will not be (not found, disabled, duplicates), with
// the reason, in entry order. Total counts entries, not monitored users:
// Users splits them.
type Summary struct {
	Source   store.RosterSource
	Total    int
	Counts   map[string]int // by resolution status; every status present
	Users    store.UserCounts
	Problems []store.DirectoryUser
}

// Summary reads the tenant's roster summary: counted in SQL, so that it
// costs one pass over the roster's index however large the roster is, and
// reads no more than SummaryProblems rows.
func (r *Roster) Summary(ctx context.Context, tenantID uuid.UUID) (Summary, error) {
	src, err := r.st.TenantRosterSource(ctx, tenantID)
	if err != nil {
		return Summary{}, fmt.Errorf("roster summary of %s: %w", tenantID, err)
	}
	counts, err := r.st.RosterCounts(ctx, tenantID)
	if err != nil {
		return Summary{}, fmt.Errorf("roster summary of %s: %w", tenantID, err)
	}
	problems, err := r.st.RosterProblems(ctx, tenantID, SummaryProblems)
	if err != nil {
		return Summary{}, fmt.Errorf("roster summary of %s: %w", tenantID, err)
	}
	s := Summary{Source: src, Total: counts.Users.Total, Counts: map[string]int{}, Users: counts.Users, Problems: problems}
	for _, st := range []string{store.UserPending, store.UserResolved, store.UserNotFound, store.UserDisabled, store.UserDuplicate} {
		s.Counts[st] = counts.ByStatus[st]
	}
	return s, nil
}
