package storetest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tables lists the tables of the public schema, sorted.
func Tables(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// RequireNotStored fails the test if secret appears anywhere in the
// database — any column of any table, as text, hex (how bytea prints) or
// base64. Tests of code that stores tokens and keys call it last.
func RequireNotStored(t testing.TB, pool *pgxpool.Pool, secret string) {
	t.Helper()
	forms := []string{secret, hex.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte(secret))}
	for _, table := range Tables(t, pool) {
		var dump string
		q := fmt.Sprintf(`SELECT coalesce(string_agg(to_jsonb(t)::text, ''), '') FROM %s t`, pgx.Identifier{table}.Sanitize())
		if err := pool.QueryRow(context.Background(), q).Scan(&dump); err != nil {
			t.Fatalf("read table %s: %v", table, err)
		}
		for _, f := range forms {
			if strings.Contains(dump, f) {
				t.Errorf("table %s holds a secret in clear (starting %q)", table, f[:min(8, len(f))])
			}
		}
	}
}
