package store

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// pgUUIDs are ids as pgx writes them at once. A uuid.UUID reaches pgx as a
// driver.Valuer: its text, which pgx first fails to write as a uuid (an
// error made and dropped), then parses back and writes. For the arrays of
// a batch of 1,000 users' presence that was 52 % of the process's CPU in
// ApplyPresenceBatch (BenchmarkARepairBatchOf1000ChangedUsers), as it was
// of a single presence read (see directory_pages.go).
func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}

// pgUUIDPtrs is pgUUIDs where nil is NULL.
func pgUUIDPtrs(ids []*uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		if id != nil {
			out[i] = pgtype.UUID{Bytes: *id, Valid: true}
		}
	}
	return out
}
