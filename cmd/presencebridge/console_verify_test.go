package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/testkit"
)

// TestTheWebRoleGivesTheConsoleVerifyConfiguration: the console's tenant
// pages run Verify configuration with the web role's own Graph clients,
// as the portal's do — a support member's run answers the checks, where
// without them it said they cannot run on this server.
func TestTheWebRoleGivesTheConsoleVerifyConfiguration(t *testing.T) {
	dsn := testkit.NewDatabase(t)
	env := []string{"PB_ENV=development", "PB_DATABASE_URL=" + dsn, testKey}
	runStaff(t, env, "a password of my own choosing\n", 0, "add", "--email", "help@vendor.example", "--role", "support", "--password-stdin")
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var tenant uuid.UUID
	if err := pool.QueryRow(t.Context(), `INSERT INTO tenants (name) VALUES ('Contoso') RETURNING id`).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	base := startProcess(t, env, "web").waitReady(t, 30*time.Second)
	b := testkit.NewForms(t, base)
	b.Get("/console/signin")
	if p := b.Post("/console/signin", url.Values{"email": {"help@vendor.example"}, "password": {"a password of my own choosing"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", p.Status, p.Text())
	}
	verify := "/console/tenants/" + tenant.String() + "/verify/"
	b.Get(verify)
	p := b.Post(verify, url.Values{})
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "Admin consent and permissions") || !strings.Contains(p.Text(), "Notification URL") {
		t.Fatalf("Verify configuration in the console: %d\n%s", p.Status, p.Text())
	}
}
