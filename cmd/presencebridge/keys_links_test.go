package main

import (
	"strings"
	"testing"
	"time"

	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// TestKeysRotateKeepsTheKeysLiveLinksNeed: links are signed under a seal
// key's sub-key and stop opening when the key leaves the ring, so `keys
// rotate` does not call a key removable while an invitation or a Copy URL
// made under it is live — it names the key, its links and when the last
// expires — and does once they have expired. Links made before the
// database recorded their key may be under any key: every key stays until
// they expire.
func TestKeysRotateKeepsTheKeysLiveLinksNeed(t *testing.T) {
	ctx := t.Context()
	dsn, pool := migratedDatabase(t)
	k1, err := seal.LoadRing(keyLine("k1", 1), "")
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, k1)
	svc := onboarding.New(st, nil, links.New(k1, nil), onboarding.Config{BaseURL: "https://b.example"})
	tenant, _, err := svc.CreateInvite(ctx, "Contoso", "staff:ops@vendor.example", 96*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.AddMonitor(ctx, tenant.ID, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.IssueMonitorLink(ctx, tenant.ID, m.ID, "staff:ops@vendor.example"); err != nil {
		t.Fatal(err)
	}

	env := []string{"PB_BASE_URL=https://b.example", "PB_DATABASE_URL=" + dsn, "PB_SEAL_KEYS=" + keyLine("k1", 1) + "," + keyLine("k2", 2)}
	rotate := func() string {
		t.Helper()
		out, err := command(ctx, env, "keys", "rotate").CombinedOutput()
		if err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
		return string(out)
	}
	const removable = "may be removed from the ring"
	var last time.Time // the invitation's expiry: the Copy URL's (72 h) comes first
	if err := pool.QueryRow(ctx, `SELECT expires_at FROM invites`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	until := last.Add(time.Minute - 1).Truncate(time.Minute).UTC().Format("2006-01-02 15:04 UTC") // rounded up
	out := rotate()
	for _, want := range []string{"k1: 1 invitation and 1 Copy URL, the last expiring " + until, "keep k1 in the ring until " + until} {
		if !strings.Contains(out, want) {
			t.Errorf("with live links under k1, rotate's report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, removable) {
		t.Errorf("rotate calls k1 removable while live links need it:\n%s", out)
	}

	// Made before the database recorded link keys: any key.
	testkit.Exec(t, pool, `UPDATE invites SET key_id = NULL`)
	out = rotate()
	if want := "made before their key was recorded: keep every key in the ring until " + until; !strings.Contains(out, want) || strings.Contains(out, removable) {
		t.Errorf("with a link of unknown key, rotate's report lacks %q (or calls keys removable):\n%s", want, out)
	}

	testkit.Exec(t, pool, `UPDATE invites SET expires_at = now() - interval '1 second'`)
	testkit.Exec(t, pool, `UPDATE monitors SET link_expires_at = now() - interval '1 second'`)
	if out = rotate(); !strings.Contains(out, removable) || strings.Contains(out, "keep k1") {
		t.Errorf("once the links expired, rotate does not call k1 removable:\n%s", out)
	}
}
