package testkit

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is what Exec needs: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Exec runs a test's setup statement and fails the test at once if it
// fails: a setup row that was never written would otherwise surface later
// as a puzzling assertion failure, or as none at all.
func Exec(t testing.TB, db Execer, sql string, args ...any) pgconn.CommandTag {
	t.Helper()
	tag, err := db.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("testkit: setup statement failed: %v\n%s", err, sql)
	}
	return tag
}
