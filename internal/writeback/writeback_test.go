package writeback

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

func TestSetPresenceShowsInACallInTeamsAndItsEchoIsNotSentBack(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	ctx := t.Context()
	u := e.Tenant.Users[0].ID
	start := time.Now()
	res, err := w.SetPresence(ctx, e.tenant, u, SetRequest{Availability: "busy", Activity: "inacall"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Availability != "Busy" || res.Activity != "InACall" || res.Attempts != 1 || res.NoSession ||
		res.Expires.Sub(start) < presence.DefaultSessionExpiry || res.Expires.Sub(start) > presence.DefaultSessionExpiry+time.Minute ||
		!res.RefreshBy.Equal(res.Expires) {
		t.Errorf("result = %+v", res)
	}
	if p := e.teams(u); p.Availability != "Busy" || p.Activity != "InACall" {
		t.Errorf("Teams shows %s/%s", p.Availability, p.Activity)
	}
	if got := e.echoes(u); !slices.Equal(got, []string{"Busy/InACall"}) {
		t.Fatalf("echoes = %v", got)
	}

	// Graph reports the change; applied as the intake applies it, it is
	// stored but published to no endpoint.
	if _, err := e.st.CreateEndpoint(ctx, e.tenant, "https://platform.example/hook", "whsec_test"); err != nil {
		t.Fatal(err)
	}
	var outcome string
	err = e.st.InTx(ctx, func(tx store.Tx) error {
		outcome, _, err = tx.ApplyPresence(ctx, store.PresenceChange{TenantID: e.tenant, UserID: u, Availability: "Busy", Activity: "InACall",
			MappedState: string(presence.Talking), Source: "notification", ObservedAt: time.Now()})
		return err
	})
	if err != nil || outcome != store.PresenceApplied {
		t.Fatalf("apply = %q, %v", outcome, err)
	}
	var source, suppressed string
	var deliveries int
	pool := e.st.Pool()
	if err := pool.QueryRow(ctx, `SELECT source, coalesce(suppressed, '') FROM presence_events WHERE tenant_id = $1 AND user_object_id = $2`,
		e.tenant, u).Scan(&source, &suppressed); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = $1`, e.tenant).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if source != "echo" || suppressed != presence.SuppressedEcho || deliveries != 0 {
		t.Errorf("event source %q, suppressed %q, %d deliveries; want an echo, suppressed, none", source, suppressed, deliveries)
	}
	if got := e.echoes(u); len(got) != 0 {
		t.Errorf("echo not used up: %v", got)
	}
}

func TestAPairGraphDoesNotAcceptIsRefusedNamingTheAllowedPairs(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	u := e.Tenant.Users[1].ID
	for _, c := range []struct {
		name    string
		write   func() (Result, error)
		allowed []presence.Pair
	}{
		{"session Busy/Busy", func() (Result, error) {
			return w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "Busy"})
		}, presence.SessionPairs()},
		{"session Busy/InAMeeting", func() (Result, error) {
			return w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InAMeeting"})
		}, presence.SessionPairs()},
		{"preferred Busy/InACall", func() (Result, error) {
			return w.SetPreferred(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InACall"})
		}, presence.PreferredPairs()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.write()
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != "availability/activity" || !slices.Equal(ie.Allowed, c.allowed) {
				t.Fatalf("error = %#v", err)
			}
			for _, p := range c.allowed {
				if !strings.Contains(err.Error(), p.String()) {
					t.Errorf("%q does not name %s", err, p)
				}
			}
		})
	}
	e.wantUntouched(u)
}

func TestAnExpiryGraphWouldRefuseIsRefusedBeforeGraph(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	u := e.Tenant.Users[1].ID
	for name, write := range map[string]func() (Result, error){
		"session of 4 minutes": func() (Result, error) {
			return w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Away", Activity: "Away", Expires: 4 * time.Minute})
		},
		"session of 4 hours and a second": func() (Result, error) {
			return w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Away", Activity: "Away", Expires: 4*time.Hour + time.Second})
		},
		"negative preferred": func() (Result, error) {
			return w.SetPreferred(t.Context(), e.tenant, u, SetRequest{Availability: "Away", Activity: "Away", Expires: -time.Minute})
		},
		"status message expired already": func() (Result, error) {
			return w.SetStatusMessage(t.Context(), e.tenant, u, StatusRequest{Message: "x", Expires: time.Now().Add(-time.Minute)})
		},
	} {
		var ie *InvalidError
		if _, err := write(); !errors.As(err, &ie) || ie.Field != "expires" || len(ie.Allowed) != 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	e.wantUntouched(u)
}

// A tenant whose consent predates Presence.ReadWrite.All is refused before
// Graph, with what the re-consent alert needs; the fresh token that might
// carry a grant given since is asked for at most once a minute.
func TestATenantWithoutPresenceReadWriteAllIsRefusedWithWhatTheConsentAlertNeeds(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	w := e.writer(e.Limited, func(o *Options) { o.Now = func() time.Time { return now } })
	u := e.Tenant.Users[2].ID
	tokens := func() int { return e.Sim.CountTokenCalls(graphsim.TokenCalls{ClientID: e.Limited.ClientID}) }

	_, err := w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InACall"})
	var pe *PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v", err)
	}
	if pe.TenantID != e.tenant || pe.Missing != "Presence.ReadWrite.All" || !slices.Contains(pe.Granted, "User.Read.All") ||
		pe.Access.ClientID != e.Limited.ClientID || pe.Access.MSTenant != e.Tenant.ID.String() || !pe.Access.OwnApp ||
		!strings.HasPrefix(pe.Access.ConsentURL, e.Base+"/"+e.Tenant.ID.String()+"/v2.0/adminconsent?") ||
		!strings.Contains(pe.Access.ConsentURL, "client_id="+e.Limited.ClientID) {
		t.Errorf("permission error = %+v", pe)
	}
	if n := tokens(); n != 2 {
		t.Errorf("%d token requests, want 2 (the cached token, then a fresh one)", n)
	}
	for _, write := range []func() (Result, error){
		func() (Result, error) { return w.ClearPresence(t.Context(), e.tenant, u) },
		func() (Result, error) {
			return w.SetPreferred(t.Context(), e.tenant, u, SetRequest{Availability: "Away", Activity: "Away"})
		},
		func() (Result, error) { return w.ClearPreferred(t.Context(), e.tenant, u) },
		func() (Result, error) {
			return w.SetStatusMessage(t.Context(), e.tenant, u, StatusRequest{Message: "x"})
		},
	} {
		if _, err := write(); !errors.As(err, &pe) {
			t.Errorf("error = %v, want a PermissionError", err)
		}
	}
	if n := tokens(); n != 2 {
		t.Errorf("%d token requests within the minute, want still 2", n)
	}
	now = now.Add(recheckEvery)
	w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InACall"})
	if n := tokens(); n != 3 {
		t.Errorf("%d token requests a minute later, want 3", n)
	}
	e.wantUntouched(u)
}

func TestA429StormIsWaitedOutWithinTheDeadlineAndTheWriteSucceeds(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	u := e.Tenant.Users[3].ID
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 1, Times: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res, err := w.SetPresence(ctx, e.tenant, u, SetRequest{Availability: "DoNotDisturb", Activity: "Presenting", Expires: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); res.Attempts != 4 || took < 3*time.Second {
		t.Errorf("%d attempts in %v; want 4, each after Retry-After's second", res.Attempts, took)
	}
	reqs := e.rec.Requests("/setPresence")
	if len(reqs) != 4 || reqs[0].Status != 429 || reqs[2].Status != 429 || reqs[3].Status != 200 {
		t.Errorf("requests: %+v", reqs)
	}
	if p := e.teams(u); p.Availability != "DoNotDisturb" || p.Activity != "Presenting" {
		t.Errorf("Teams shows %s/%s", p.Availability, p.Activity)
	}
	if got := e.echoes(u); !slices.Equal(got, []string{"DoNotDisturb/Presenting"}) {
		t.Errorf("echoes = %v", got)
	}
}

// Graph asks for a longer wait than the caller has: the caller learns at
// once when to try again, and the refused state's echo is withdrawn.
func TestThrottlingLongerThanTheDeadlineAllowsIsAThrottledErrorWithRetryAt(t *testing.T) {
	e := newEnv(t)
	u := e.Tenant.Users[4].ID
	for _, c := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		maxWait time.Duration
	}{
		{"deadline of 5 s", func() (context.Context, context.CancelFunc) { return context.WithTimeout(t.Context(), 5*time.Second) }, 0},
		{"no deadline, 5 s at most", func() (context.Context, context.CancelFunc) { return context.WithCancel(t.Context()) }, 5 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.writer(e.Seed.App, func(o *Options) { o.MaxWait = c.maxWait })
			e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 30, Times: 1})
			ctx, cancel := c.ctx()
			defer cancel()
			start := time.Now()
			_, err := w.SetPresence(ctx, e.tenant, u, SetRequest{Availability: "Away", Activity: "Away"})
			var te *ThrottledError
			if !errors.As(err, &te) {
				t.Fatalf("error = %v", err)
			}
			if d := te.RetryAt.Sub(start); d < 30*time.Second || d > 32*time.Second || te.Attempts != 1 || time.Since(start) > 2*time.Second {
				t.Errorf("throttled error = %+v after %v", te, time.Since(start))
			}
			if ge, ok := graphapi.AsError(err); !ok || ge.Status != http.StatusTooManyRequests {
				t.Errorf("Graph's answer is not kept: %v", err)
			}
			if got := e.echoes(u); len(got) != 0 {
				t.Errorf("echoes left = %v", got)
			}
		})
	}
}

func TestClearingASessionThatIsNotThereIsNoSession(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	u := e.Tenant.Users[5].ID
	if err := e.Sim.SetTeamsPresence(u, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	res, err := w.ClearPresence(t.Context(), e.tenant, u)
	if err != nil || !res.NoSession {
		t.Fatalf("clear without a session = %+v, %v", res, err)
	}
	if _, err := w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InAConferenceCall"}); err != nil {
		t.Fatal(err)
	}
	if res, err = w.ClearPresence(t.Context(), e.tenant, u); err != nil || res.NoSession {
		t.Fatalf("clear = %+v, %v", res, err)
	}
	if p := e.teams(u); p.Availability != "Available" || p.Activity != "Available" {
		t.Errorf("after the clear Teams shows %s/%s, want the user's own Available", p.Availability, p.Activity)
	}
}

// An Available session fades after 5 minutes unless set again; the result
// says when to.
func TestAnAvailableSessionMustBeSetAgainWithinFiveMinutes(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	start := time.Now()
	res, err := w.SetPresence(t.Context(), e.tenant, e.Tenant.Users[6].ID, SetRequest{Availability: "Available", Activity: "Available"})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.RefreshBy.Sub(start); d < presence.SessionFade || d > presence.SessionFade+time.Minute || !res.Expires.After(res.RefreshBy) {
		t.Errorf("result = %+v", res)
	}
}

func TestPreferredPresenceAndStatusMessageReachTeams(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	ctx := t.Context()
	u := e.Tenant.Users[7].ID
	if err := e.Sim.SetTeamsPresence(u, "Available", "Available"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := w.SetPreferred(ctx, e.tenant, u, SetRequest{Availability: "donotdisturb", Activity: "donotdisturb"})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Expires.Sub(start); res.Availability != "DoNotDisturb" || d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Errorf("result = %+v (Graph keeps DoNotDisturb a day)", res)
	}
	if p := e.teams(u); p.Availability != "DoNotDisturb" || p.Activity != "DoNotDisturb" {
		t.Errorf("Teams shows %s/%s", p.Availability, p.Activity)
	}
	if got := e.echoes(u); !slices.Equal(got, []string{"DoNotDisturb/DoNotDisturb"}) {
		t.Errorf("echoes = %v", got)
	}
	if _, err := w.ClearPreferred(ctx, e.tenant, u); err != nil {
		t.Fatal(err)
	}
	if p := e.teams(u); p.Availability != "Available" {
		t.Errorf("after clearing Teams shows %s/%s", p.Availability, p.Activity)
	}

	if _, err := w.SetStatusMessage(ctx, e.tenant, u, StatusRequest{Message: "On a customer call", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if p := e.teams(u); p.StatusMessage == nil || p.StatusMessage.Message.Content != "On a customer call" {
		t.Errorf("status message = %+v", p.StatusMessage)
	}
	if _, err := w.SetStatusMessage(ctx, e.tenant, u, StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if p := e.teams(u); p.StatusMessage != nil {
		t.Errorf("status message after clearing = %+v", p.StatusMessage)
	}
}

func TestWritingForAUserGraphDoesNotKnowIsErrUserNotFound(t *testing.T) {
	e := newEnv(t)
	w := e.writer(e.Seed.App)
	u := uuid.New()
	_, err := w.SetPresence(t.Context(), e.tenant, u, SetRequest{Availability: "Busy", Activity: "InACall"})
	if !errors.Is(err, ErrUserNotFound) || !graphapi.IsNotFound(err) {
		t.Fatalf("error = %v", err)
	}
	if got := e.echoes(u); len(got) != 0 {
		t.Errorf("the refused write's echo is left: %v", got)
	}
}
