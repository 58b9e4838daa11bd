package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
)

// A command's flag or argument that the database cannot store (bytes that
// are not UTF-8; a NUL cannot be in an argument at all) is a usage error
// naming it (exit 2), and the command changes nothing. Before, the value
// reached a query and the command failed on the database's
// "invalid byte sequence for encoding UTF8" (exit 1), or stored it.
func TestAFlagOrArgumentThatIsNotUTF8IsAUsageErrorAndChangesNothing(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	runStaff(t, env, "", 0, "add", "--email", "ops@vendor.example", "--role", "support")
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows := func() (n int) {
		t.Helper()
		err := pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM tenants) +
			(SELECT count(*) FROM staff) + (SELECT count(*) FROM invites)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"invite", "create", "--name", "Contoso\xff"}, "--name"},
		{[]string{"invite", "create", "--name", "Contoso", "--by", "ops\xff@vendor.example"}, "--by"},
		{[]string{"staff", "add", "--email", "new@vendor.example", "--role", "viewer", "--name", "N\xffew"}, "--name"},
		{[]string{"staff", "add", "--email", "new@vendor.example", "--role", "viewer", "--by", "\xff"}, "--by"},
		{[]string{"staff", "disable", "ops\xff@vendor.example"}, "ops"},
		{[]string{"staff", "disable", "ops@vendor.example", "--by", "b\xffoss"}, "--by"},
	} {
		before := rows()
		cmd := command(t.Context(), env, c.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), c.says) || !strings.Contains(stderr.String(), "not text") {
			t.Errorf("%q: exit %d\n%s%s", c.args, code, out, stderr.String())
		}
		if after := rows(); after != before {
			t.Errorf("%q: %d rows stored", c.args, after-before)
		}
	}
}
