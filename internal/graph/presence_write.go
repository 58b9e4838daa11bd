package graph

import (
	"context"
	"net/http"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Writing presence into Teams (docs/graph.md#setting-presence): the app's
// own presence session, the user's preferred presence and the status
// message. Every call is a POST answered 200 with no body; an app-only
// token needs Presence.ReadWrite.All, a delegated one Presence.ReadWrite
// and then reaches only the signed-in user.
//
// These calls are not retried by the SDK, whatever the Client's Retry: a
// 429 (or 503, 504) comes back at once as a *graphapi.Error with Graph's
// RetryAfter. Their caller answers a person or a platform waiting on a
// deadline, and only it knows whether waiting Retry-After still fits in
// it; the SDK's retry handler would sleep into the deadline and return
// the context's error instead of Graph's answer.

// SetPresence sets the presence session sessionID (the app's client id)
// for userID. Graph accepts only its documented pairs (Available/Available,
// Busy/InACall, Busy/InAConferenceCall, Away/Away, DoNotDisturb/Presenting)
// and expirations from 5 minutes to 4 hours; 0 leaves Graph's default (5
// minutes).
// https://learn.microsoft.com/en-us/graph/api/presence-setpresence
func (c *Client) SetPresence(ctx context.Context, userID, sessionID, availability, activity string, expires time.Duration) error {
	body := users.NewItemPresenceSetPresencePostRequestBody()
	body.SetSessionId(&sessionID)
	setPair(body, availability, activity, expires)
	cfg := &users.ItemPresenceSetPresenceRequestBuilderPostRequestConfiguration{Options: noRetry()}
	return wrap("set presence of "+userID, c.presence(userID).SetPresence().Post(ctx, body, cfg))
}

// ClearPresence ends the session sessionID; when there is no such session
// Graph answers 404 (graphapi.IsNotFound).
// https://learn.microsoft.com/en-us/graph/api/presence-clearpresence
func (c *Client) ClearPresence(ctx context.Context, userID, sessionID string) error {
	body := users.NewItemPresenceClearPresencePostRequestBody()
	body.SetSessionId(&sessionID)
	cfg := &users.ItemPresenceClearPresenceRequestBuilderPostRequestConfiguration{Options: noRetry()}
	return wrap("clear presence of "+userID, c.presence(userID).ClearPresence().Post(ctx, body, cfg))
}

// SetPreferredPresence sets the presence the user chose (what they pick in
// Teams); 0 expires leaves Graph's default (1 day for Busy and
// DoNotDisturb, 7 days otherwise).
// https://learn.microsoft.com/en-us/graph/api/presence-setuserpreferredpresence
func (c *Client) SetPreferredPresence(ctx context.Context, userID, availability, activity string, expires time.Duration) error {
	body := users.NewItemPresenceSetUserPreferredPresencePostRequestBody()
	setPair(body, availability, activity, expires)
	cfg := &users.ItemPresenceSetUserPreferredPresenceRequestBuilderPostRequestConfiguration{Options: noRetry()}
	return wrap("set preferred presence of "+userID, c.presence(userID).SetUserPreferredPresence().Post(ctx, body, cfg))
}

// ClearPreferredPresence removes the user's chosen presence.
// https://learn.microsoft.com/en-us/graph/api/presence-clearuserpreferredpresence
func (c *Client) ClearPreferredPresence(ctx context.Context, userID string) error {
	cfg := &users.ItemPresenceClearUserPreferredPresenceRequestBuilderPostRequestConfiguration{Options: noRetry()}
	return wrap("clear preferred presence of "+userID, c.presence(userID).ClearUserPreferredPresence().Post(ctx, cfg))
}

// SetStatusMessage sets (or, when message is empty, clears) the user's
// status message. Graph wants the expiry as a wall-clock time without an
// offset plus a time zone name, so it is sent in UTC; a zero expires
// never expires.
// https://learn.microsoft.com/en-us/graph/api/presence-setstatusmessage
func (c *Client) SetStatusMessage(ctx context.Context, userID, message string, expires time.Time) error {
	content, text := message, models.TEXT_BODYTYPE
	item := models.NewItemBody()
	item.SetContent(&content)
	item.SetContentType(&text)
	sm := models.NewPresenceStatusMessage()
	sm.SetMessage(item)
	if !expires.IsZero() {
		at, zone := expires.UTC().Format("2006-01-02T15:04:05"), "UTC"
		dt := models.NewDateTimeTimeZone()
		dt.SetDateTime(&at)
		dt.SetTimeZone(&zone)
		sm.SetExpiryDateTime(dt)
	}
	body := users.NewItemPresenceSetStatusMessagePostRequestBody()
	body.SetStatusMessage(sm)
	cfg := &users.ItemPresenceSetStatusMessageRequestBuilderPostRequestConfiguration{Options: noRetry()}
	return wrap("set status message of "+userID, c.presence(userID).SetStatusMessage().Post(ctx, body, cfg))
}

// pairBody is what the bodies of setPresence and setUserPreferredPresence
// have in common.
type pairBody interface {
	SetAvailability(*string)
	SetActivity(*string)
	SetExpirationDuration(*absser.ISODuration)
}

// setPair fills in the pair and, unless 0 leaves Graph's default, the expiry.
func setPair(body pairBody, availability, activity string, expires time.Duration) {
	body.SetAvailability(&availability)
	body.SetActivity(&activity)
	if expires > 0 {
		body.SetExpirationDuration(isoDuration(expires))
	}
}

// noRetry replaces the Client's retry policy for one request: kiota's
// retry handler takes the options a request carries over its own.
func noRetry() []abs.RequestOption {
	return []abs.RequestOption{&khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	}}
}

// isoDuration spells d as ISO 8601 (PT1H30M), to the second.
func isoDuration(d time.Duration) *absser.ISODuration {
	d = d.Round(time.Second)
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	s := int(d % time.Minute / time.Second)
	return absser.NewDuration(0, 0, 0, h, m, s, 0)
}
