package graph

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
)

func TestSetPresenceThenClearPresenceEndsTheSession(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[2].ID.String()
	session := e.Seed.App.ClientID
	if err := c.SetPresence(t.Context(), u, session, "Busy", "InACall", time.Hour); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPresence(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Availability != "Busy" || p.Activity != "InACall" {
		t.Errorf("after setPresence: %+v", p)
	}
	if err := c.ClearPresence(t.Context(), u, session); err != nil {
		t.Fatal(err)
	}
	// The session is gone: clearing it again is 404 (docs/graph.md#setting-presence).
	err = c.ClearPresence(t.Context(), u, session)
	graphError(t, err, http.StatusNotFound, "")
}

func TestSetPresenceRefusesWhatGraphRefuses(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[2].ID.String()
	cases := []struct {
		name, session, availability, activity string
		expires                               time.Duration
	}{
		{"combination not documented", e.Seed.App.ClientID, "Busy", "Away", 0},
		{"session is not the app", uuid.NewString(), "Busy", "InACall", 0},
		{"expiration over 4 hours", e.Seed.App.ClientID, "Away", "Away", 5 * time.Hour},
		{"expiration under 5 minutes", e.Seed.App.ClientID, "Away", "Away", time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.SetPresence(t.Context(), u, tc.session, tc.availability, tc.activity, tc.expires)
			graphError(t, err, http.StatusBadRequest, "BadRequest")
		})
	}
}

func TestSetPresenceNeedsPresenceReadWriteAll(t *testing.T) {
	e := newEnv(t)
	c, _ := e.client(e.AppTokens(e.Limited))
	err := c.SetPresence(t.Context(), e.Tenant.Users[0].ID.String(), e.Limited.ClientID, "Busy", "InACall", 0)
	graphError(t, err, http.StatusForbidden, "Forbidden")
}

func TestPreferredPresenceOverridesTeamsUntilCleared(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[4]
	if err := e.Sim.SetTeamsPresence(u.ID, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPreferredPresence(t.Context(), u.ID.String(), "DoNotDisturb", "DoNotDisturb", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPresence(t.Context(), u.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.Availability != "DoNotDisturb" {
		t.Errorf("with preferred presence: %+v", p)
	}
	if err := c.ClearPreferredPresence(t.Context(), u.ID.String()); err != nil {
		t.Fatal(err)
	}
	if p, _ = c.GetPresence(t.Context(), u.ID.String()); p.Availability != "Available" {
		t.Errorf("after clearing: %+v", p)
	}
	err = c.SetPreferredPresence(t.Context(), u.ID.String(), "Busy", "InACall", 0)
	graphError(t, err, http.StatusBadRequest, "BadRequest")
}

func TestStatusMessageIsSetAndCleared(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[5].ID.String()
	if err := c.SetStatusMessage(t.Context(), u, "In the lab until noon", time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPresence(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusMessage != "In the lab until noon" {
		t.Errorf("status message = %q", p.StatusMessage)
	}
	if err := c.SetStatusMessage(t.Context(), u, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p, _ = c.GetPresence(t.Context(), u); p.StatusMessage != "" {
		t.Errorf("status message after clearing = %q", p.StatusMessage)
	}
}

// Writes are never retried by the SDK, even on a Client whose reads are:
// the 429 and its Retry-After reach the caller, who knows its deadline.
func TestPresenceWritesHandThrottlingToTheCaller(t *testing.T) {
	e := newEnv(t)
	c, rec := e.client(e.AppTokens(e.Seed.App), func(o *Options) { o.Retry = Retry{} })
	u := e.Tenant.Users[6].ID.String()
	session := e.Seed.App.ClientID
	writes := []struct {
		name string
		call func() error
	}{
		{"setPresence", func() error { return c.SetPresence(t.Context(), u, session, "Busy", "InACall", time.Hour) }},
		{"clearPresence", func() error { return c.ClearPresence(t.Context(), u, session) }},
		{"setUserPreferredPresence", func() error { return c.SetPreferredPresence(t.Context(), u, "Away", "Away", 0) }},
		{"clearUserPreferredPresence", func() error { return c.ClearPreferredPresence(t.Context(), u) }},
		{"setStatusMessage", func() error { return c.SetStatusMessage(t.Context(), u, "On a call", time.Time{}) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			rec.Reset()
			e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: session, Class: "presence", RetryAfter: 3, Times: 1})
			err := w.call()
			ge := graphError(t, err, http.StatusTooManyRequests, "TooManyRequests")
			if ge.RetryAfter != 3*time.Second || !graphapi.IsThrottled(err) {
				t.Errorf("throttled %s = %+v", w.name, ge)
			}
			if n := len(rec.Requests("/presence/" + w.name)); n != 1 {
				t.Errorf("%s sent %d times, want once", w.name, n)
			}
			if err := w.call(); err != nil { // the fault has passed
				t.Errorf("%s after the 429: %v", w.name, err)
			}
		})
	}
}

// The expiry goes out as an ISO 8601 duration Graph honours: a session set
// for 1 h 30 min still shows a minute before its end and is gone after.
func TestSetPresenceSessionLastsItsExpiry(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	u := e.Tenant.Users[7].ID
	if err := c.SetPresence(t.Context(), u.String(), e.Seed.App.ClientID, "Busy", "InACall", 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	if reqs := rec.Requests("/setPresence"); len(reqs) != 1 {
		t.Fatalf("setPresence requests: %+v", reqs)
	}
	for _, step := range []struct {
		after                  time.Duration
		availability, activity string
	}{
		{89 * time.Minute, "Busy", "InACall"},
		{2 * time.Minute, "Offline", "Offline"},
	} {
		e.Advance(step.after)
		e.Sim.TickPresence()
		c, _ = e.app() // tokens expire by the Sim's clock
		p, err := c.GetPresence(t.Context(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		if p.Availability != step.availability || p.Activity != step.activity {
			t.Errorf("after another %v: %s/%s, want %s/%s", step.after, p.Availability, p.Activity, step.availability, step.activity)
		}
	}
}

// A status message's expiry is sent in UTC with a zone name and no offset,
// as Graph requires; it ends when it says.
func TestStatusMessageExpiresWhenAsked(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[8].ID.String()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatusMessage(t.Context(), u, "Back at 3", e.Now().Add(time.Hour).In(berlin)); err != nil {
		t.Fatal(err)
	}
	e.Advance(59 * time.Minute)
	e.Sim.TickPresence()
	c, _ = e.app()
	if p, err := c.GetPresence(t.Context(), u); err != nil || p.StatusMessage != "Back at 3" {
		t.Fatalf("before the expiry: %+v %v", p, err)
	}
	e.Advance(2 * time.Minute)
	e.Sim.TickPresence()
	c, _ = e.app()
	if p, err := c.GetPresence(t.Context(), u); err != nil || p.StatusMessage != "" {
		t.Errorf("after the expiry: %+v %v", p, err)
	}
}

func TestWritingPresenceOfAnUnknownUserIsNotFound(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	err := c.SetPresence(t.Context(), uuid.NewString(), e.Seed.App.ClientID, "Busy", "InACall", 0)
	graphError(t, err, http.StatusNotFound, "")
}
