package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
)

// TestInboxCommandsListAndReplayQuarantinedNotifications: support lists
// what the processor quarantined — with the payload, its clientStates
// redacted — and replays one by id (audited, back in the inbox under its
// own id) or refuses a replay that names nothing.
func TestInboxCommandsListAndReplayQuarantinedNotifications(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testkit.Exec(t, pool, `INSERT INTO inbox_quarantine (id, received_at, kind, payload, items, attempts, reason, error) VALUES
		(41, now(), 'change', '{"value": [{"subscriptionId": "sub-1", "clientState": "s3cret"}], "validationTokens": ["t"]}', 1, 0,
			'bad_validation_token', 'notification: invalid validation token'),
		(42, now(), 'change', '{"value": 7}', 1, 10, 'failed', 'write presence: boom')`)

	out, err := command(t.Context(), env, "inbox", "list-quarantined", "--payload").CombinedOutput()
	if err != nil {
		t.Fatalf("list-quarantined: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "bad_validation_token") || !strings.Contains(text, "write presence: boom") ||
		!strings.Contains(text, `"sub-1"`) || strings.Contains(text, "s3cret") || !strings.Contains(text, "[redacted]") {
		t.Errorf("list-quarantined printed:\n%s", text)
	}

	none := command(t.Context(), env, "inbox", "replay")
	if out, _ := none.CombinedOutput(); none.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--all") {
		t.Errorf("a replay naming nothing: exit %d\n%s", none.ProcessState.ExitCode(), out)
	}
	out, err = command(t.Context(), env, "inbox", "replay", "--id", "42", "--by", "ops@vendor.example").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 notification(s) back in the inbox") {
		t.Fatalf("replay --id 42: %v\n%s", err, out)
	}
	var inbox, left, audited int
	pool.QueryRow(t.Context(), `SELECT count(*) FROM inbox WHERE id = 42`).Scan(&inbox)
	pool.QueryRow(t.Context(), `SELECT count(*) FROM inbox_quarantine`).Scan(&left)
	pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'inbox.replayed' AND actor = 'staff:ops@vendor.example'`).Scan(&audited)
	if inbox != 1 || left != 1 || audited != 1 {
		t.Errorf("after the replay: %d in the inbox as 42, %d still quarantined, %d audit entries; want 1, 1, 1", inbox, left, audited)
	}
}
