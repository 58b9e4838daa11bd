package enginetest

import (
	"strings"
	"testing"
	"time"

	"presencebridge/internal/alertmail"
	"presencebridge/internal/mail"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// Issue 13's acceptance for alert mail: a monitor whose grant is revoked
// in graphsim is found by the engine, and its tenant's admin gets one mail
// about it, a reminder 24 hours (of the product's clock) later, and a
// "resolved" mail once it is authorized again — read from development's
// capture — and nothing more after.
func TestARevokedMonitorIsMailedOnceRemindedAfter24HoursAndResolvedAfterReauthorization(t *testing.T) {
	b := newBridge(t, bridgeOptions{users: 60, monitors: 3, authorized: 3, pipeline: true})
	testkit.Exec(t, b.pool, `UPDATE tenants SET admin_email = 'admin@contoso.example' WHERE id = $1`, b.tenant)
	w := b.worker(0, nil)
	ctx := t.Context()
	sender := alertmail.New(b.st, alertmail.Options{Mailer: mail.NewCapture(b.st, ""), BaseURL: "https://bridge.example", Now: b.e.Now})
	enginePass := func(what string) {
		t.Helper()
		if _, _, err := w.runner.Tenant(ctx, b.tenant); err != nil {
			t.Fatalf("engine pass %s: %v", what, err)
		}
	}
	mailPass := func(what string, want int) {
		t.Helper()
		n, err := sender.Pass(ctx)
		if err != nil || n != want {
			t.Fatalf("mail pass %s: %d mails, %v; want %d", what, n, err, want)
		}
	}
	enginePass("while all is well")
	mailPass("while all is well", 0)

	// The monitor's sessions are revoked; Graph says reauthorizationRequired
	// and the engine finds the grant gone.
	b.e.Sim.RevokeUser(b.ten.Monitors[0].ID)
	b.e.Advance(time.Minute)
	b.e.Sim.TickNotifications()
	eventually(t, "the lifecycle notification", func() bool {
		var n int
		b.pool.QueryRow(ctx, `SELECT count(*) FROM subscription_events WHERE event = 'reauthorizationRequired'`).Scan(&n)
		return n > 0
	})
	enginePass("after the revocation")
	if m, _ := b.st.GetMonitor(ctx, b.tenant, b.monitors[0]); m.Status != store.MonitorNeedsReauth {
		t.Fatalf("the revoked monitor is %s", m.Status)
	}
	mailPass("after the revocation", 1)
	enginePass("again")
	mailPass("again", 0)

	b.e.Advance(23 * time.Hour)
	mailPass("23 hours on", 0)
	b.e.Advance(time.Hour)
	mailPass("24 hours on", 1)
	mailPass("24 hours on, again", 0)

	b.authorize(0) // the monitor's owner signs in again
	enginePass("after re-authorization")
	mailPass("after re-authorization", 1)
	b.e.Advance(48 * time.Hour)
	enginePass("two days on")
	mailPass("two days on", 0)

	got, err := b.st.CapturedMails(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	upn := b.ten.Monitors[0].UPN
	want := []string{"Resolved: Presence monitor " + upn, "Reminder: Presence monitor " + upn, "Contoso: Presence monitor " + upn}
	if len(got) != len(want) {
		t.Fatalf("captured %d mails, want %d", len(got), len(want))
	}
	for i, m := range got { // newest first
		if !strings.Contains(m.Subject, want[i]) || len(m.To) != 1 || m.To[0] != "admin@contoso.example" {
			t.Errorf("mail %d: %q to %q, want %q to the admin", len(got)-i, m.Subject, m.To, want[i])
		}
	}
	if body := got[2].Body; !strings.Contains(body, "AADSTS50173") || !strings.Contains(body, "https://bridge.example/portal") {
		t.Errorf("the alert mail does not say what is wrong and where to fix it:\n%s", body)
	}
}
