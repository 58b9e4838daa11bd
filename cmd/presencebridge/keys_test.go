package main

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/testkit"
)

func keyLine(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

// migratedDatabase is a fresh database, migrated as a process would at
// start, and a pool on it for the test's own store.
func migratedDatabase(t *testing.T) (dsn string, pool *pgxpool.Pool) {
	t.Helper()
	dsn = testkit.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := schema.Up(t.Context(), pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return dsn, pool
}

// TestKeysRotateCommand seals secrets under k1, then runs `keys rotate` with
// k2 appended (and so active): every row moves to k2, nothing secret is
// printed, and a second run finds nothing to do.
func TestKeysRotateCommand(t *testing.T) {
	ctx := t.Context()
	dsn, pool := migratedDatabase(t)
	k1, err := seal.LoadRing(keyLine("k1", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	old := store.New(pool, k1)
	const secret = "refresh-token-that-must-not-leak"
	for range 30 {
		if _, err := old.PutSecret(ctx, nil, store.PurposeRefreshToken, []byte(secret)); err != nil {
			t.Fatal(err)
		}
	}

	env := []string{"PB_BASE_URL=https://b.example", "PB_DATABASE_URL=" + dsn, "PB_SEAL_KEYS=" + keyLine("k1", 1) + "," + keyLine("k2", 2), "PB_LOG_LEVEL=debug"}
	out, err := command(ctx, env, "keys", "rotate", "--batch", "7").CombinedOutput()
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	for _, want := range []string{"re-sealed 30 secrets", "30 secrets are sealed with the active key k2", "may be removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), secret) || strings.Contains(string(out), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))) {
		t.Fatalf("rotate printed a secret or a key:\n%s", out)
	}
	var left int
	pool.QueryRow(ctx, `SELECT count(*) FROM secrets WHERE key_id <> 'k2'`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d secrets not under k2 after rotate", left)
	}
	out, err = command(ctx, env, "keys", "rotate").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "re-sealed 0 secrets") {
		t.Fatalf("second rotate: %v\n%s", err, out)
	}
}
