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
	for _, table := range Tables(t, pool) {
		RequireNotIn(t, "table "+table, TableText(t, pool, table), secret)
	}
}

// TableText is a table's rows as RequireNotStored reads them: each row as
// JSON text, bytea in hex. A test that learns a secret only after it may
// have left the table (a value shown once) reads the table first, then
// calls RequireNotIn.
func TableText(t testing.TB, pool *pgxpool.Pool, table string) string {
	t.Helper()
	var dump string
	q := fmt.Sprintf(`SELECT coalesce(string_agg(to_jsonb(t)::text, ''), '') FROM %s t`, pgx.Identifier{table}.Sanitize())
	if err := pool.QueryRow(context.Background(), q).Scan(&dump); err != nil {
		t.Fatalf("read table %s: %v", table, err)
	}
	return dump
}

// RequireNotIn fails the test if secret appears in text (what, such as
// a TableText) as text, hex or base64.
func RequireNotIn(t testing.TB, what, text, secret string) {
	t.Helper()
	for _, f := range []string{secret, hex.EncodeToString([]byte(secret)), base64.StdEncoding.EncodeToString([]byte(secret))} {
		if strings.Contains(text, f) {
			t.Errorf("%s holds a secret in clear (starting %q)", what, f[:min(8, len(f))])
		}
	}
}
