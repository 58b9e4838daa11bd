package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CompleteInboxBatch ends a processed inbox batch in tx in one round trip:
// it stamps each touched subscription's last notification and deletes the
// inbox rows (the batch's changes wake their readers themselves:
// ApplyPresenceBatch).
//
// A subscription's stamp moves only when it is a second or more behind:
// every processor touches the same few subscription rows, and an update
// of each in every batch made concurrent processors wait for one
// another's commit on those row locks. The statement is planned per
// execution: a plan cached while the inbox was empty scans all of it.
func (s *Store) CompleteInboxBatch(ctx context.Context, tx pgx.Tx, inboxIDs []int64, touched map[uuid.UUID]time.Time) error {
	subs := make([]uuid.UUID, 0, len(touched))
	ats := make([]time.Time, 0, len(touched))
	for id, at := range touched {
		subs, ats = append(subs, id), append(ats, at)
	}
	_, err := tx.Exec(ctx, `WITH touch AS (
			UPDATE subscriptions s SET last_notification_at = x.at
			FROM unnest($1::uuid[], $2::timestamptz[]) AS x (id, at)
			WHERE s.id = x.id AND (s.last_notification_at IS NULL OR s.last_notification_at < x.at - interval '1 second')
		)
		DELETE FROM inbox WHERE id = ANY($3)`,
		pgx.QueryExecModeCacheDescribe, subs, ats, inboxIDs)
	return err
}
