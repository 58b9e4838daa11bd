package graph

import (
	"context"
	"fmt"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/communications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"presencebridge/internal/graph/graphapi"
)

// GetPresences reads the presence of userIDs with getPresencesByUserId, at
// most graphapi.MaxPresenceIDs per request, one request after another (the
// budget is 1,500 requests per 30 s per app and tenant). When a request
// fails, the presences read so far are returned with the error.
func (c *Client) GetPresences(ctx context.Context, userIDs []string) ([]graphapi.Presence, error) {
	out := make([]graphapi.Presence, 0, len(userIDs))
	comms := communications.NewCommunicationsRequestBuilderInternal(c.path(), c.adapter)
	for start := 0; start < len(userIDs); start += graphapi.MaxPresenceIDs {
		chunk := userIDs[start:min(start+graphapi.MaxPresenceIDs, len(userIDs))]
		body := communications.NewGetPresencesByUserIdPostRequestBody()
		body.SetIds(chunk)
		resp, err := comms.GetPresencesByUserId().PostAsGetPresencesByUserIdPostResponse(ctx, body, nil)
		if err != nil {
			return out, wrap(fmt.Sprintf("get presences of %d users", len(chunk)), err)
		}
		for _, p := range resp.GetValue() {
			out = append(out, presenceOf(p))
		}
	}
	return out, nil
}

// GetPresence reads one user's presence (GET /users/{id}/presence).
func (c *Client) GetPresence(ctx context.Context, userID string) (graphapi.Presence, error) {
	p, err := c.presence(userID).Get(ctx, nil)
	if err != nil {
		return graphapi.Presence{}, wrap("get presence of "+userID, err)
	}
	return presenceOf(p), nil
}

// SetPresence sets the presence session sessionID (the app's client id)
// for userID. Graph accepts only its documented pairs (Available/Available,
// Busy/InACall, Busy/InAConferenceCall, Away/Away, DoNotDisturb/Presenting)
// and expirations from 5 minutes to 4 hours; 0 leaves Graph's default.
func (c *Client) SetPresence(ctx context.Context, userID, sessionID, availability, activity string, expires time.Duration) error {
	body := users.NewItemPresenceSetPresencePostRequestBody()
	body.SetSessionId(&sessionID)
	body.SetAvailability(&availability)
	body.SetActivity(&activity)
	if expires > 0 {
		body.SetExpirationDuration(isoDuration(expires))
	}
	return wrap("set presence of "+userID, c.presence(userID).SetPresence().Post(ctx, body, nil))
}

// ClearPresence ends the session sessionID; an unknown session is NotFound.
func (c *Client) ClearPresence(ctx context.Context, userID, sessionID string) error {
	body := users.NewItemPresenceClearPresencePostRequestBody()
	body.SetSessionId(&sessionID)
	return wrap("clear presence of "+userID, c.presence(userID).ClearPresence().Post(ctx, body, nil))
}

// SetPreferredPresence sets the presence the user chose (what they pick in
// Teams); 0 expires leaves Graph's default (1 day for Busy and
// DoNotDisturb, 7 days otherwise).
func (c *Client) SetPreferredPresence(ctx context.Context, userID, availability, activity string, expires time.Duration) error {
	body := users.NewItemPresenceSetUserPreferredPresencePostRequestBody()
	body.SetAvailability(&availability)
	body.SetActivity(&activity)
	if expires > 0 {
		body.SetExpirationDuration(isoDuration(expires))
	}
	return wrap("set preferred presence of "+userID, c.presence(userID).SetUserPreferredPresence().Post(ctx, body, nil))
}

// ClearPreferredPresence removes the user's chosen presence.
func (c *Client) ClearPreferredPresence(ctx context.Context, userID string) error {
	return wrap("clear preferred presence of "+userID, c.presence(userID).ClearUserPreferredPresence().Post(ctx, nil))
}

// SetStatusMessage sets (or, when message is empty, clears) the user's
// status message. Graph wants the expiry as a wall-clock time plus a time
// zone name, so it is sent in UTC.
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
	return wrap("set status message of "+userID, c.presence(userID).SetStatusMessage().Post(ctx, body, nil))
}

func (c *Client) presence(userID string) *users.ItemPresenceRequestBuilder {
	return users.NewUsersRequestBuilderInternal(c.path(), c.adapter).ByUserId(userID).Presence()
}

func presenceOf(p models.Presenceable) graphapi.Presence {
	out := graphapi.Presence{
		UserID:         deref(p.GetId()),
		Availability:   deref(p.GetAvailability()),
		Activity:       deref(p.GetActivity()),
		SequenceNumber: deref(p.GetSequenceNumber()),
	}
	if sm := p.GetStatusMessage(); sm != nil && sm.GetMessage() != nil {
		out.StatusMessage = deref(sm.GetMessage().GetContent())
	}
	if oo := p.GetOutOfOfficeSettings(); oo != nil {
		out.OutOfOffice = deref(oo.GetIsOutOfOffice())
	}
	return out
}

// isoDuration spells d as ISO 8601 (PT1H30M), to the second.
func isoDuration(d time.Duration) *absser.ISODuration {
	d = d.Round(time.Second)
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	s := int(d % time.Minute / time.Second)
	return absser.NewDuration(0, 0, 0, h, m, s, 0)
}
