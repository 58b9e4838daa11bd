package graphsim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// restarted is graphsim started again from f's snapshot, at another
// address, with f's clock: the same cloud after a restart.
func (f *fixture) restarted() *fixture {
	f.t.Helper()
	b, err := f.sim.Snapshot()
	if err != nil {
		f.t.Fatal(err)
	}
	g := &fixture{t: f.t, now: f.clock(), seed: f.seed}
	g.sim = New(Options{Clock: g.clock})
	if err := g.sim.Restore(b); err != nil {
		f.t.Fatalf("restore: %v", err)
	}
	g.srv = httptest.NewServer(g.sim.Handler())
	f.t.Cleanup(g.srv.Close)
	g.sim.SetBaseURL(g.srv.URL)
	return g
}

// A product that onboarded a tenant before graphsim restarted keeps
// working after: the monitor's refresh token issued before is honoured,
// the admin consent is still granted (client credentials work), an access
// token issued before is still accepted, and a tenant that never
// consented still has no consent.
func TestARestoredSimHonoursARefreshTokenAndAConsentIssuedBefore(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.tenant(), f.monitor()
	signed, err := f.oauthConfig(ten.ID.String()).PasswordCredentialsToken(ctx(t), mon.UPN, mon.Password)
	if err != nil {
		t.Fatal(err)
	}
	before := f.appToken(ten)

	g := f.restarted()
	refreshed, err := g.oauthConfig(ten.ID.String()).TokenSource(ctx(t), &oauth2.Token{RefreshToken: signed.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("the refresh token issued before the restart: %v", err)
	}
	g.wantPresence(refreshed.AccessToken, ten.Users[0].ID, "Offline", "Offline")
	g.appToken(ten) // fails the test unless the consent is still granted
	g.wantPresence(before, ten.Users[0].ID, "Offline", "Offline")

	unconsented := f.seed.Tenants[1]
	cc := clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret,
		TokenURL: g.tokenURL(unconsented.ID.String()), Scopes: []string{"https://graph.microsoft.com/.default"}}
	_, err = cc.Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000229)

	// A consent withdrawn before the restart stays withdrawn, and can be
	// restored after it.
	f.sim.WithdrawConsent(ten.ID, f.seed.App.ClientID)
	h := f.restarted()
	_, err = (&clientcredentials.Config{ClientID: f.seed.App.ClientID, ClientSecret: f.seed.App.ClientSecret,
		TokenURL: h.tokenURL(ten.ID.String()), Scopes: []string{"https://graph.microsoft.com/.default"}}).Token(ctx(t))
	requireAADError(t, err, 401, "invalid_client", 7000229)
	if !h.sim.RestoreConsent(ten.ID, f.seed.App.ClientID) {
		t.Fatal("the consent withdrawn before the restart cannot be restored after it")
	}
}

// Presence and subscriptions survive a restart: a user's presence reads
// the same, with the same sequenceNumber, unchanged users notify nothing,
// and a change after the restart reaches the subscription made before,
// encrypted with its certificate, with a later sequenceNumber.
func TestARestoredSimKeepsPresenceAndNotifiesSubscriptionsMadeBefore(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten, mon := f.tenant(), f.monitor()
	adele, other := ten.Users[0], ten.Users[1]
	sub := f.subscribe(f.userToken(ten, mon), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	if err := f.sim.SetTeamsPresence(adele.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetOutOfOffice(other.ID, true, "Back on Monday"); err != nil {
		t.Fatal(err)
	}
	before := f.sim.currentPresence(adele.ID)

	g := f.restarted()
	startNotifier(t, g)
	app := g.appToken(ten)
	if p := g.wantPresence(app, adele.ID, "Busy", "InACall"); p.SequenceNumber != before.SequenceNumber {
		t.Errorf("sequenceNumber after the restart = %s, want %s as before", p.SequenceNumber, before.SequenceNumber)
	}
	if p := g.presence(app, other.ID); p.OutOfOfficeSettings == nil || p.OutOfOfficeSettings.Message == nil || *p.OutOfOfficeSettings.Message != "Back on Monday" {
		t.Errorf("out of office after the restart = %+v", p.OutOfOfficeSettings)
	}
	g.sim.TickPresence()
	rc.none(t) // nothing changed: nothing to notify

	if len(g.sim.Subscriptions()) != 1 || g.sim.Subscriptions()[0].ID != sub.ID {
		t.Fatalf("subscriptions after the restart = %+v, want %s", g.sim.Subscriptions(), sub.ID)
	}
	if err := g.sim.SetTeamsPresence(adele.ID, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	got := decodeCollection(t, rc.next(t).Body)
	if len(got.Value) != 1 || got.Value[0].SubscriptionID != sub.ID || got.Value[0].EncryptedContent == nil {
		t.Fatalf("notification after the restart = %+v", got.Value)
	}
	_, key := testEncryptionCert(t)
	p := decrypt(t, key, got.Value[0])
	if p["availability"] != "Available" || p["sequenceNumber"].(string) <= before.SequenceNumber {
		t.Errorf("notified presence %v, want Available with a sequenceNumber after %s", p, before.SequenceNumber)
	}
}

// A subscription that expired while graphsim was down is gone after the
// restart, as Graph deletes an expired subscription.
func TestASubscriptionThatExpiredWhileDownIsGoneAfterTheRestart(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), false))
	f.advance(time.Hour)
	if subs := f.restarted().sim.Subscriptions(); len(subs) != 0 {
		t.Fatalf("subscriptions after the restart = %+v, want none (expired)", subs)
	}
}

func TestSnapshotFilesAreWrittenAtomicallyPrivateAndVersioned(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "graphsim.json")
	if ok, err := New(Options{}).Load(path); ok || err != nil {
		t.Fatalf("Load of a missing file = %v, %v; want false, nil", ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.sim.Persist(ctx, path, 10*time.Millisecond) }()
	eventually(t, "the first save", func() bool { _, err := os.Stat(path); return err == nil })
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	adele := f.tenant().Users[0]
	if err := f.sim.SetTeamsPresence(adele.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the save at the end: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d files, want the snapshot alone (no temporary file left)", len(entries))
	}

	g := New(Options{})
	if ok, err := g.Load(path); !ok || err != nil {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if p := g.currentPresence(adele.ID); p.Activity != "InACall" {
		t.Errorf("presence loaded = %s/%s, want the change made just before the end", p.Availability, p.Activity)
	}

	b, _ := os.ReadFile(path)
	newer := strings.Replace(string(b), `"version": 1`, `"version": 2`, 1)
	if err := New(Options{}).Restore([]byte(newer)); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("a snapshot of another format version: err = %v, want it refused naming the version", err)
	}
}

// Snapshot is the same bytes while nothing changes, so Persist writes
// only after a change; a restored Sim's is the one it was restored from.
func TestSnapshotIsStableWhileNothingChanges(t *testing.T) {
	f := newFixture(t)
	f.userToken(f.tenant(), f.monitor())
	a, err := f.sim.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.sim.Snapshot()
	if string(a) != string(b) {
		t.Fatal("two snapshots of the same state differ")
	}
	g := f.restarted()
	c, _ := g.sim.Snapshot()
	if string(a) != string(c) {
		t.Error("the snapshot of a restored Sim differs from the one it was restored from")
	}
	// The signing key is published as before: a client's cached keys
	// still verify tokens signed after the restart.
	kid := func(base string) string {
		resp, err := http.Get(base + "/" + f.tenant().ID.String() + "/discovery/v2.0/keys")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct{ Keys []struct{ Kid, N string } }
		decodeJSON(t, resp.Body, &set)
		if len(set.Keys) != 1 {
			t.Fatalf("JWKS at %s has %d keys", base, len(set.Keys))
		}
		return set.Keys[0].Kid + "/" + set.Keys[0].N
	}
	if before, after := kid(f.srv.URL), kid(g.srv.URL); before != after {
		t.Errorf("the JWKS key after the restart is %s, want %s as before", after, before)
	}
}
