package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// TestRetentionDeletesActivityFiguresAfter30DaysWhateverTheHistoryKept:
// the charts' figures go when they are 30 days old, by minute and by hour,
// per tenant and overall, even where presence history is kept longer.
func TestRetentionDeletesActivityFiguresAfter30DaysWhateverTheHistoryKept(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	testkit.Exec(t, pool, `INSERT INTO tenants (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'C')`)
	for _, table := range []string{"activity_minutes", "activity_hours"} {
		testkit.Exec(t, pool, `INSERT INTO `+table+` (tenant_id, at, notifications, latency)
			SELECT '00000000-0000-4000-8000-000000000001', date_trunc('hour', now()) - d * interval '1 day', 1, array_fill(0, ARRAY[35])
			FROM unnest(ARRAY[1, 29, 31, 40]) d`)
		testkit.Exec(t, pool, `INSERT INTO `+table+`_overall (at, notifications, latency)
			SELECT date_trunc('hour', now()) - d * interval '1 day', 1, array_fill(0, ARRAY[35]) FROM unnest(ARRAY[1, 29, 31, 40]) d`)
	}
	w := &RetentionWorker{st: store.New(pool, nil), keep: 90 * 24 * time.Hour}
	if err := w.Work(ctx, &river.Job[RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"activity_minutes", "activity_hours", "activity_minutes_overall", "activity_hours_overall"} {
		var left, old int
		pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE at < now() - interval '30 days') FROM `+table).Scan(&left, &old)
		if left != 2 || old != 0 {
			t.Errorf("%s keeps %d rows, %d of them older than 30 days; want the 2 younger", table, left, old)
		}
	}
}
