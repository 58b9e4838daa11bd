package intake

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/activity"
	"presencebridge/internal/notification"
)

// TestTheProcessorCountsATenantsNotificationsOnceTheirBatchCommits: each
// change notification item of a tenant counts in the minute it was
// received, whether or not it changed anything; items of a subscription we
// no longer have are nobody's.
func TestTheProcessorCountsATenantsNotificationsOnceTheirBatchCommits(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	counts := activity.NewRecorder(f.st, activity.Options{})
	p := NewProcessor(f.st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}, Activity: counts})
	u := uuid.New()
	stranger := f.rich(t, uuid.New(), "Busy", "InACall", "1")
	stranger["subscriptionId"] = "sub-gone"
	stranger["clientState"] = "other"
	f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "1"), f.rich(t, uuid.New(), "Away", "Away", "1"))
	f.inbox(t, "change", f.rich(t, u, "Busy", "InACall", "1"), stranger) // a retried POST: unchanged, still received
	if _, err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := counts.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := activity.TenantSeries(ctx, f.st, f.tenant, activity.SpanOf("1h"), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if s.Total.Notifications != 3 {
		t.Errorf("%d notifications counted for the tenant, want 3", s.Total.Notifications)
	}
}
