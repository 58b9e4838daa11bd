package graph

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/communications"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
)

// graphError asserts err carries a *graphapi.Error with status (and code,
// when given) and a request id, as every Graph error body has.
func graphError(t *testing.T, err error, status int, code string) *graphapi.Error {
	t.Helper()
	ge, ok := graphapi.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) carries no *graphapi.Error; want %d %s", err, err, status, code)
	}
	if ge.Status != status || (code != "" && ge.Code != code) {
		t.Fatalf("error = %d %q (%s), want %d %q", ge.Status, ge.Code, ge.Message, status, code)
	}
	if ge.RequestID == "" {
		t.Errorf("error %v has no request id", ge)
	}
	return ge
}

func TestGetPresencesReadsEveryIDInChunksOf650(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	busy := e.Tenant.Users[3]
	if err := e.Sim.SetTeamsPresence(busy.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	ids := e.UserIDs()
	for len(ids) < 700 { // ids outside the tenant read as PresenceUnknown
		ids = append(ids, uuid.NewString())
	}
	got, err := c.GetPresences(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 700 {
		t.Fatalf("got %d presences, want 700", len(got))
	}
	if n := len(rec.Requests("/communications/getPresencesByUserId")); n != 2 {
		t.Errorf("getPresencesByUserId requests = %d, want 2 (650 + 50)", n)
	}
	byID := map[string]graphapi.Presence{}
	for _, p := range got {
		byID[p.UserID] = p
	}
	if p := byID[busy.ID.String()]; p.Availability != "Busy" || p.Activity != "InACall" {
		t.Errorf("busy user reads %+v", p)
	}
	if p := byID[ids[699]]; p.Availability != "PresenceUnknown" {
		t.Errorf("unknown id reads %+v, want PresenceUnknown", p)
	}
}

// The limit is Graph's; GetPresences never sends 651, so the SDK is driven
// directly.
func TestGetPresencesByUserIdRefuses651IDs(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	ids := make([]string, 651)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	body := communications.NewGetPresencesByUserIdPostRequestBody()
	body.SetIds(ids)
	_, err := communications.NewCommunicationsRequestBuilderInternal(c.path(), c.adapter).GetPresencesByUserId().
		PostAsGetPresencesByUserIdPostResponse(t.Context(), body, nil)
	graphError(t, toError(err), http.StatusBadRequest, "BadRequest")
}

func TestGetPresenceOfAnUnknownUserIsNotFound(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	_, err := c.GetPresence(t.Context(), uuid.NewString())
	graphError(t, err, http.StatusNotFound, "")
	if !graphapi.IsNotFound(err) || graphapi.IsTransient(err) {
		t.Errorf("IsNotFound/IsTransient wrong for %v", err)
	}
}

func TestReadingPresenceWithoutPresenceReadAllIsForbidden(t *testing.T) {
	e := newEnv(t)
	c, _ := e.client(e.AppTokens(e.Limited))
	_, err := c.GetPresence(t.Context(), e.Tenant.Users[0].ID.String())
	graphError(t, err, http.StatusForbidden, "Forbidden")
	_, err = c.GetPresences(t.Context(), e.UserIDs())
	graphError(t, err, http.StatusForbidden, "Forbidden")
	if !graphapi.IsAuth(err) || !graphapi.IsForbidden(err) {
		t.Errorf("IsAuth/IsForbidden false for %v", err)
	}
}

func TestGetPresenceFollowsTeamsAndOutOfOffice(t *testing.T) {
	e := newEnv(t)
	c, _ := e.app()
	u := e.Tenant.Users[1]
	if err := e.Sim.SetTeamsPresence(u.ID, "DoNotDisturb", "Presenting"); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.SetOutOfOffice(u.ID, true, "Back Monday"); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPresence(t.Context(), u.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != u.ID.String() || p.Availability != "DoNotDisturb" || p.Activity != "Presenting" || !p.OutOfOffice {
		t.Errorf("presence = %+v", p)
	}
	// sequenceNumber is lexicographically increasing per change.
	if err := e.Sim.SetTeamsPresence(u.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	next, err := c.GetPresence(t.Context(), u.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.SequenceNumber == "" || next.SequenceNumber <= p.SequenceNumber {
		t.Errorf("sequenceNumber %q then %q", p.SequenceNumber, next.SequenceNumber)
	}
}

// A monitor's delegated token reads presence too (Presence.Read.All), but
// may change only its own (Presence.ReadWrite).
func TestMonitorReadsPresenceAndWritesOnlyItsOwn(t *testing.T) {
	e := newEnv(t)
	c, _ := e.monitor(0)
	if _, err := c.GetPresences(t.Context(), e.UserIDs()); err != nil {
		t.Fatal(err)
	}
	self := e.Tenant.Monitors[0].ID.String()
	if err := c.SetPreferredPresence(t.Context(), self, "Away", "Away", 0); err != nil {
		t.Errorf("own preferred presence: %v", err)
	}
	err := c.SetPreferredPresence(t.Context(), e.Tenant.Users[0].ID.String(), "Away", "Away", 0)
	graphError(t, err, http.StatusForbidden, "Forbidden")
}

func TestThrottledReadSurfaces429WithRetryAfter(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 7, Times: 1})
	_, err := c.GetPresences(t.Context(), e.UserIDs())
	ge := graphError(t, err, http.StatusTooManyRequests, "TooManyRequests")
	if ge.RetryAfter != 7*time.Second || !graphapi.IsThrottled(err) || !graphapi.IsTransient(err) || graphapi.RetryAfter(err) != 7*time.Second {
		t.Errorf("throttled error = %+v", ge)
	}
	if n := len(rec.Requests("getPresencesByUserId")); n != 1 {
		t.Errorf("requests = %d: retries were off", n)
	}
}

// The SDK's retry handler waits Retry-After and sends the body again.
func TestSDKRetryWaitsRetryAfterAndResendsTheBody(t *testing.T) {
	e := newEnv(t)
	c, rec := e.client(e.AppTokens(e.Seed.App), func(o *Options) { o.Retry = Retry{} })
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 1, Times: 1})
	start := time.Now()
	got, err := c.GetPresences(t.Context(), e.UserIDs())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(e.Tenant.Users) {
		t.Errorf("got %d presences", len(got))
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("retried after %v, before Retry-After", took)
	}
	reqs := rec.Requests("getPresencesByUserId")
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 || reqs[1].Header.Get("Retry-Attempt") != "1" {
		t.Fatalf("requests: %+v", reqs)
	}
}

func TestRetryMaxDelayHandsLongWaitsToTheCaller(t *testing.T) {
	e := newEnv(t)
	c, rec := e.client(e.AppTokens(e.Seed.App), func(o *Options) { o.Retry = Retry{MaxDelay: 2 * time.Second} })
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 30, Times: 1})
	start := time.Now()
	_, err := c.GetPresence(t.Context(), e.Tenant.Users[0].ID.String())
	ge := graphError(t, err, http.StatusTooManyRequests, "")
	if ge.RetryAfter != 30*time.Second || time.Since(start) > 5*time.Second {
		t.Errorf("error %+v after %v", ge, time.Since(start))
	}
	if n := len(rec.Requests("/presence")); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestGzipRequestBodiesAreAccepted(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	if err := c.SetPresence(t.Context(), e.Tenant.Users[0].ID.String(), e.Seed.App.ClientID, "Away", "Away", 0); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests("/setPresence")
	if len(reqs) != 1 || !strings.EqualFold(reqs[0].Header.Get("Content-Encoding"), "gzip") {
		t.Fatalf("setPresence was not sent gzip-compressed: %+v", reqs)
	}
}

// A read of presences sends its ids uncompressed: compressing them cost
// more of the CPU than the bytes it saved were worth (graph.uncompressed).
func TestReadingPresencesSendsTheIDsUncompressed(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	if _, err := c.GetPresences(t.Context(), e.UserIDs()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests("getPresencesByUserId")
	if len(reqs) != 1 || reqs[0].Header.Get("Content-Encoding") != "" {
		t.Fatalf("getPresencesByUserId was sent compressed: %+v", reqs)
	}
}

// A read of presences sends its ids as the SDK's own serialization writes
// them, though encoded by goccy/go-json (presencesRequest), with the
// SDK's content type.
func TestReadingPresencesSendsTheIDsAsTheSDKWrites(t *testing.T) {
	e := newEnv(t)
	c, rec := e.app()
	ids := e.UserIDs()
	if _, err := c.GetPresences(t.Context(), ids); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests("getPresencesByUserId")
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	body := communications.NewGetPresencesByUserIdPostRequestBody()
	body.SetIds(ids)
	want, err := communications.NewCommunicationsRequestBuilderInternal(c.path(), c.adapter).GetPresencesByUserId().
		ToPostRequestInformation(t.Context(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reqs[0].Body, want.Content) {
		t.Errorf("body sent:\n%s\nthe SDK writes:\n%s", reqs[0].Body, want.Content)
	}
	if got := reqs[0].Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q, want application/json", got)
	}
}

// kiota orders its default handlers by ranging over a map; New pins
// compression outside retry. The reverse order is what breaks retried
// POSTs, shown here with that order forced.
func TestCompressionRunsOutsideRetry(t *testing.T) {
	for range 20 { // the SDK's order varies from call to call
		mws := middleware(Retry{})
		ci, ri := -1, -1
		for i, m := range mws {
			switch m.(type) {
			case *khttp.CompressionHandler:
				ci = i
			case *khttp.RetryHandler:
				ri = i
			}
		}
		if ci < 0 || ri < 0 || ci > ri {
			t.Fatalf("compression at %d, retry at %d", ci, ri)
		}
	}

	e := newEnv(t)
	mws := middleware(Retry{})
	slices.SortStableFunc(mws, func(a, b khttp.Middleware) int {
		_, ra := a.(*khttp.RetryHandler)
		_, rb := b.(*khttp.RetryHandler)
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		}
		return 0
	})
	c, err := newClient(Options{BaseURL: e.Base + "/v1.0", Tokens: e.AppTokens(e.Seed.App)}, mws)
	if err != nil {
		t.Fatal(err)
	}
	e.Sim.AddThrottleFault(graphsim.ThrottleFault{AppID: e.Seed.App.ClientID, Class: "presence", RetryAfter: 1, Times: 1})
	_, err = c.GetPresences(t.Context(), e.UserIDs())
	if ge, ok := graphapi.AsError(err); !ok || ge.Status != http.StatusBadRequest {
		t.Skipf("retry outside compression no longer breaks retried POSTs (kiota fixed?): %v", err)
	}
}
