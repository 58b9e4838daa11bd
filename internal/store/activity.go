package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LatencyBuckets is the length of every activity row's latency histogram
// (migration 000040 checks it); internal/activity says what each bucket
// holds.
const LatencyBuckets = 35

// ActivityMinute is what the pipeline did for one tenant in one minute:
// added to what is stored for the minute already.
type ActivityMinute struct {
	TenantID      uuid.UUID
	Minute        time.Time // truncated to the minute
	Notifications int32
	Delivered     int32
	Failed        int32
	Latency       [LatencyBuckets]int32 // delivered webhooks per latency bucket
}

// Add adds o's figures to m's.
func (m *ActivityMinute) Add(o *ActivityMinute) {
	m.Notifications += o.Notifications
	m.Delivered += o.Delivered
	m.Failed += o.Failed
	for i, n := range o.Latency {
		m.Latency[i] += n
	}
}

// activityTable is one of migration 000040's tables: by tenant or
// overall, by minute or by hour.
type activityTable struct {
	name    string
	tenants bool // keyed by tenant, not overall
	width   time.Duration
}

// activityTables in the order AddActivity writes them.
var activityTables = []activityTable{
	{"activity_minutes", true, time.Minute},
	{"activity_hours", true, time.Hour},
	{"activity_minutes_overall", false, time.Minute},
	{"activity_hours_overall", false, time.Hour},
}

// AddActivity adds each minute's figures to the rows of its tenant and
// of everyone, by minute and by hour, in one transaction. The tables are
// written in one order and each in key order, so two workers adding at
// once wait for each other rather than deadlock. A tenant deleted
// meanwhile is left out of the tenants' rows (they went with it) but
// still counts in the overall ones: it happened.
func (s *Store) AddActivity(ctx context.Context, minutes []ActivityMinute) error {
	if len(minutes) == 0 {
		return nil
	}
	err := s.InTx(ctx, func(tx Tx) error {
		for _, t := range activityTables {
			c := activityColumns(minutes, t)
			var err error
			// The histograms travel as one flat array: unnest cannot take
			// an array of arrays apart row by row. Rows with equal keys
			// were summed by activityColumns: ON CONFLICT may touch a row
			// once per statement.
			if t.tenants {
				_, err = tx.db.Exec(ctx, `INSERT INTO `+t.name+` AS a (tenant_id, at, notifications, delivered, failed, latency)
					SELECT x.tenant_id, x.at, x.notifications, x.delivered, x.failed, `+latencySlice(6)+`
					FROM unnest($1::uuid[], $2::timestamptz[], $3::int4[], $4::int4[], $5::int4[]) WITH ORDINALITY
						AS x (tenant_id, at, notifications, delivered, failed, n)
					WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = x.tenant_id)
					ORDER BY x.tenant_id, x.at
					ON CONFLICT (tenant_id, at) DO UPDATE SET `+addActivity,
					c.tenants, c.at, c.notifications, c.delivered, c.failed, c.latency)
			} else {
				_, err = tx.db.Exec(ctx, `INSERT INTO `+t.name+` AS a (at, notifications, delivered, failed, latency)
					SELECT x.at, x.notifications, x.delivered, x.failed, `+latencySlice(5)+`
					FROM unnest($1::timestamptz[], $2::int4[], $3::int4[], $4::int4[]) WITH ORDINALITY
						AS x (at, notifications, delivered, failed, n)
					ORDER BY x.at
					ON CONFLICT (at) DO UPDATE SET `+addActivity,
					c.at, c.notifications, c.delivered, c.failed, c.latency)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		return nil
	})
	return wrap("add activity", err)
}

// latencySlice is row n's histogram in the flat array of parameter p.
func latencySlice(p int) string {
	return fmt.Sprintf(`($%d::int4[])[(x.n - 1) * %d + 1 : x.n * %[2]d]`, p, LatencyBuckets)
}

// addActivity adds the new figures to a row's; two histograms add bucket
// by bucket (unnest of two arrays pairs their elements).
const addActivity = `notifications = a.notifications + excluded.notifications,
	delivered = a.delivered + excluded.delivered, failed = a.failed + excluded.failed,
	latency = ARRAY(SELECT p + q FROM unnest(a.latency, excluded.latency) AS u (p, q))`

// activityArrays are rows as AddActivity's statements take them.
type activityArrays struct {
	tenants                          []uuid.UUID
	at                               []time.Time
	notifications, delivered, failed []int32
	latency                          []int32 // LatencyBuckets per row, one row after another
}

// activityColumns sums minutes into t's rows (by tenant or not, by minute
// or by hour) and returns them in key order.
func activityColumns(minutes []ActivityMinute, t activityTable) activityArrays {
	type key struct {
		tenant uuid.UUID
		at     int64
	}
	sums := map[key]*ActivityMinute{}
	var keys []key
	for _, m := range minutes {
		k := key{at: m.Minute.Truncate(t.width).Unix()}
		if t.tenants {
			k.tenant = m.TenantID
		}
		s := sums[k]
		if s == nil {
			s = &ActivityMinute{TenantID: k.tenant, Minute: m.Minute.Truncate(t.width)}
			sums[k] = s
			keys = append(keys, k)
		}
		s.Add(&m)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := bytes.Compare(a.tenant[:], b.tenant[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.at, b.at)
	})
	var a activityArrays
	for _, k := range keys {
		s := sums[k]
		a.tenants, a.at = append(a.tenants, s.TenantID), append(a.at, s.Minute)
		a.notifications, a.delivered, a.failed = append(a.notifications, s.Notifications), append(a.delivered, s.Delivered), append(a.failed, s.Failed)
		a.latency = append(a.latency, s.Latency[:]...)
	}
	return a
}

// ActivityPoint is the sum of the rows of one step of a series, from At.
type ActivityPoint struct {
	At            time.Time
	Notifications int64
	Delivered     int64
	Failed        int64
	Latency       [LatencyBuckets]int64
}

// TenantActivity sums a tenant's figures from from (inclusive) to to
// (exclusive) by steps of step counted from from; a step without traffic
// has no point. Steps of whole hours from a whole hour are summed from
// the hours' rows, others from the minutes'. The database makes the sums
// and sends one row per step; the primary key serves the range.
func (s *Store) TenantActivity(ctx context.Context, tenantID uuid.UUID, from, to time.Time, step time.Duration) ([]ActivityPoint, error) {
	table := activityTableFor(true, from, step)
	rows, err := s.db.Query(ctx, `SELECT date_bin($4::bigint * interval '1 second', at, $2) AS step,
			sum(notifications), sum(delivered), sum(failed), `+latencySums+`
		FROM `+table+` WHERE tenant_id = $1 AND at >= $2 AND at < $3
		GROUP BY step ORDER BY step`, tenantID, from, to, int64(step/time.Second))
	if err != nil {
		return nil, wrap("tenant activity", err)
	}
	v, err := collectActivity(rows)
	return v, wrap("tenant activity", err)
}

// OverallActivity is TenantActivity for every tenant together.
func (s *Store) OverallActivity(ctx context.Context, from, to time.Time, step time.Duration) ([]ActivityPoint, error) {
	table := activityTableFor(false, from, step)
	rows, err := s.db.Query(ctx, `SELECT date_bin($3::bigint * interval '1 second', at, $1) AS step,
			sum(notifications), sum(delivered), sum(failed), `+latencySums+`
		FROM `+table+` WHERE at >= $1 AND at < $2
		GROUP BY step ORDER BY step`, from, to, int64(step/time.Second))
	if err != nil {
		return nil, wrap("overall activity", err)
	}
	v, err := collectActivity(rows)
	return v, wrap("overall activity", err)
}

// activityTableFor is the table with the widest rows that fit whole in
// steps of step from from; the minutes' when none does (a step of
// seconds: the sums are then of the minutes that begin in each step).
func activityTableFor(tenants bool, from time.Time, step time.Duration) string {
	var name string
	for _, t := range activityTables {
		if t.tenants == tenants && (name == "" || step%t.width == 0 && from.Truncate(t.width).Equal(from)) {
			name = t.name
		}
	}
	return name
}

// latencySums sums each latency bucket over a group's rows.
var latencySums = func() string {
	sums := make([]string, LatencyBuckets)
	for i := range sums {
		sums[i] = fmt.Sprintf("sum(latency[%d])", i+1)
	}
	return strings.Join(sums, ", ")
}()

func collectActivity(rows pgx.Rows) ([]ActivityPoint, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ActivityPoint, error) {
		var p ActivityPoint
		dest := []any{&p.At, &p.Notifications, &p.Delivered, &p.Failed}
		for i := range p.Latency {
			dest = append(dest, &p.Latency[i])
		}
		return p, r.Scan(dest...)
	})
}

// BusiestTenants lists up to n tenants with the most notifications and
// deliveries since since (by whole hours), busiest first.
func (s *Store) BusiestTenants(ctx context.Context, since time.Time, n int) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id FROM activity_hours WHERE at >= $1
		GROUP BY tenant_id ORDER BY sum(notifications) + sum(delivered) DESC, tenant_id LIMIT $2`, since, n)
	if err != nil {
		return nil, wrap("busiest tenants", err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return v, wrap("busiest tenants", err)
}

// DeleteOldActivity deletes up to limit rows older than keep from each
// activity table and returns how many in all; a caller with a backlog
// calls again.
func (s *Store) DeleteOldActivity(ctx context.Context, keep time.Duration, limit int) (int64, error) {
	var n int64
	for _, t := range activityTables {
		key, cols := "at", "at"
		if t.tenants {
			key, cols = "(tenant_id, at)", "tenant_id, at"
		}
		tag, err := s.db.Exec(ctx, `DELETE FROM `+t.name+` WHERE `+key+` IN (
			SELECT `+cols+` FROM `+t.name+` WHERE at < now() - $1::interval LIMIT $2)`, keep.String(), limit)
		if err != nil {
			return n, fmt.Errorf("delete %s older than %s: %w", t.name, keep, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
