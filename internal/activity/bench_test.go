package activity_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/activity"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// benchTenants is how many tenants have traffic in every minute of the 30
// days: their rows interleave in the table as a busy deployment's do, so
// one tenant's 43,200 minutes are spread over many pages.
const benchTenants = 10

// BenchmarkChartQueryOver30DaysOfMinutes: the charts' query (issue 14:
// ≤ 100 ms) — one tenant's 30 days of figures, every minute with traffic,
// among other tenants' as many, summed into 240 steps of 3 hours; the
// same tenant's last 24 hours, the page's default; and the console's
// overall chart over the 30 days.
func BenchmarkChartQueryOver30DaysOfMinutes(b *testing.B) {
	ctx := b.Context()
	st, tenant := storetest.New(b)
	pool := st.Pool()
	for i := 1; i < benchTenants; i++ {
		storetest.Tenant(b, pool, "Other")
	}
	// A minute's histogram as a busy tenant's looks: a few buckets around
	// 20 ms, a thin tail; an hour's, sixty of them.
	testkit.Exec(b, pool, `INSERT INTO activity_minutes (tenant_id, at, notifications, delivered, failed, latency)
		SELECT t.id, m, 60 + (extract(epoch FROM m)::bigint % 17)::int, 60, (extract(epoch FROM m)::bigint % 97 = 0)::int,
			'{0,0,0,0,0,0,1,3,8,15,18,9,4,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
		FROM generate_series(date_trunc('minute', now()) - interval '30 days', date_trunc('minute', now()) - interval '1 minute',
			interval '1 minute') m
		CROSS JOIN tenants t ORDER BY m, t.id`)
	testkit.Exec(b, pool, `INSERT INTO activity_hours (tenant_id, at, notifications, delivered, failed, latency)
		SELECT tenant_id, date_trunc('hour', at) h, sum(notifications), sum(delivered), sum(failed),
			'{0,0,0,0,0,0,60,180,480,900,1080,540,240,60,60,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
		FROM activity_minutes GROUP BY tenant_id, h ORDER BY h, tenant_id`)
	for _, width := range []string{"minutes", "hours"} {
		testkit.Exec(b, pool, `INSERT INTO activity_`+width+`_overall (at, notifications, delivered, failed, latency)
			SELECT at, sum(notifications), sum(delivered), sum(failed), min(latency) FROM activity_`+width+` GROUP BY at`)
	}
	for _, table := range []string{"activity_minutes", "activity_hours", "activity_minutes_overall", "activity_hours_overall"} {
		testkit.Exec(b, pool, `VACUUM ANALYZE `+table)
	}
	span := activity.SpanOf("30d")
	b.Run("tenant", func(b *testing.B) {
		for b.Loop() {
			s, err := activity.TenantSeries(ctx, st, tenant, span, time.Now())
			if err != nil || len(s.Points) != 240 || s.Total.Delivered < 60*43000-3600 {
				b.Fatalf("%d points, %d delivered: %v", len(s.Points), s.Total.Delivered, err)
			}
		}
	})
	b.Run("tenant-24h", func(b *testing.B) { // the page's default: 288 steps of 1,440 minutes' rows
		for b.Loop() {
			s, err := activity.TenantSeries(ctx, st, tenant, activity.DefaultSpan, time.Now())
			if err != nil || len(s.Points) != 288 || s.Total.Delivered < 60*1430 {
				b.Fatalf("%d points, %d delivered: %v", len(s.Points), s.Total.Delivered, err)
			}
		}
	})
	b.Run("overall", func(b *testing.B) {
		for b.Loop() {
			s, err := activity.OverallSeries(ctx, st, span, time.Now())
			if err != nil || len(s.Points) != 240 || s.Total.Delivered < benchTenants*(60*43000-3600) {
				b.Fatalf("%d points, %d delivered: %v", len(s.Points), s.Total.Delivered, err)
			}
		}
	})
}

// BenchmarkRecordingADelivery: what the deliverer's hot path pays per
// webhook — a map update under a lock and the Prometheus series — with
// and without tenant labels; nothing is written here.
func BenchmarkRecordingADelivery(b *testing.B) {
	tenants := make([]uuid.UUID, 1000)
	for i := range tenants {
		tenants[i] = uuid.New()
	}
	for _, labels := range []int{0, 20} {
		b.Run(fmt.Sprintf("labels=%d", labels), func(b *testing.B) {
			rec := activity.NewRecorder(nil, activity.Options{Metrics: prometheus.NewRegistry(), TenantLabels: labels})
			now, i := time.Now(), 0
			for b.Loop() {
				rec.Delivered(tenants[i%len(tenants)], now, 20*time.Millisecond)
				i++
			}
		})
	}
}
