package store

import (
	"context"
	"fmt"
)

// DeleteExpiredSessions deletes up to limit browser sessions past their
// expiry and returns how many; a caller with a backlog calls again, so
// that no single statement holds long locks. (Expired sessions are never
// served meanwhile: the session store reads only unexpired ones.)
func (s *Store) DeleteExpiredSessions(ctx context.Context, limit int) (int64, error) {
	tag, err := s.db.Exec(ctx, `
		DELETE FROM sessions WHERE token IN (
			SELECT token FROM sessions WHERE expiry < now() LIMIT $1)`, limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
