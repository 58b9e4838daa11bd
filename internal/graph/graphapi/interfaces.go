package graphapi

import (
	"context"
	"time"
)

// The interfaces below are what domain packages depend on; *graph.Client
// implements all of them (checked at compile time in graph's tests). A
// Client speaks for one token: a monitor's delegated token or a tenant's
// app-only token, so it is always scoped to one tenant.

// PresenceReader reads presence.
type PresenceReader interface {
	// GetPresences reads many users at once, MaxPresenceIDs per request.
	GetPresences(ctx context.Context, userIDs []string) ([]Presence, error)
	GetPresence(ctx context.Context, userID string) (Presence, error)
}

// PresenceWriter sets presence in Teams: an app-only token needs
// Presence.ReadWrite.All, a delegated one reaches only its own user
// (docs/graph.md#setting-presence). Throttling is never retried behind the
// caller's back: a 429 comes back at once (IsThrottled, RetryAfter), for
// the caller to wait or give up as its deadline allows.
type PresenceWriter interface {
	// SetPresence sets the app's presence session for the user; sessionID
	// is the app's client id. Only Graph's documented availability/activity
	// pairs are accepted; expires is 5 minutes to 4 hours (0: Graph's 5).
	SetPresence(ctx context.Context, userID, sessionID, availability, activity string, expires time.Duration) error
	// ClearPresence ends the app's session; IsNotFound when there is none.
	ClearPresence(ctx context.Context, userID, sessionID string) error
	// SetPreferredPresence sets what the user would pick in Teams; 0
	// expires is Graph's default (a day for Busy and DoNotDisturb, else a
	// week).
	SetPreferredPresence(ctx context.Context, userID, availability, activity string, expires time.Duration) error
	ClearPreferredPresence(ctx context.Context, userID string) error
	// SetStatusMessage sets the user's status message; an empty message
	// clears it; a zero expires never expires.
	SetStatusMessage(ctx context.Context, userID, message string, expires time.Time) error
}

// Subscriber manages change-notification subscriptions (for presence:
// delegated tokens only).
type Subscriber interface {
	CreateSubscription(ctx context.Context, spec SubscriptionSpec) (Subscription, error)
	// RenewSubscription moves the expiry (PATCH); it also reauthorizes.
	RenewSubscription(ctx context.Context, id string, expires time.Time) (Subscription, error)
	ReauthorizeSubscription(ctx context.Context, id string) error
	DeleteSubscription(ctx context.Context, id string) error
	GetSubscription(ctx context.Context, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context) ([]Subscription, error)
}

// Directory reads users and groups.
type Directory interface {
	// GetUser finds a user by object id or UPN.
	GetUser(ctx context.Context, idOrUPN string) (User, error)
	// FindUsers lists the users matching an OData $filter (advanced
	// queries allowed), across all pages.
	FindUsers(ctx context.Context, filter string) ([]User, error)
	// ResolveUsers looks up many UPNs or mail addresses at once. Each input
	// lands in exactly one of the two maps, keyed as given; a failure of one
	// does not fail the others (IsNotFound, IsThrottled tell why).
	ResolveUsers(ctx context.Context, upnsOrMails []string) (map[string]User, map[string]error)
	// UsersDelta reads one page of a users delta round: the first page of a
	// new round when link is empty, else the page at link (a NextLink or a
	// DeltaLink from an earlier page).
	UsersDelta(ctx context.Context, link string) (DeltaPage, error)
	// GroupMembers lists the users in a group, nested groups flattened.
	GroupMembers(ctx context.Context, groupID string) ([]User, error)
}

// AppRegistrations reads app registrations in their home tenant.
type AppRegistrations interface {
	// AppSecrets lists the client secrets of the app with clientID
	// (Application.Read.All); an unknown app is a NotFound error.
	AppSecrets(ctx context.Context, clientID string) ([]SecretCredential, error)
}

// GroupDelta follows a group's direct membership with Graph's group delta
// query (GET /groups/delta?$filter=id eq '…'&$select=members). Nested
// groups show up as members of type "group"; their members do not.
type GroupDelta interface {
	// GroupMembersDelta reads one page: of a full round when link is empty,
	// else the page at link (a NextLink or a DeltaLink returned earlier).
	// An expired link (7 days) is a BadRequest (syncStateNotFound): start
	// again with an empty link.
	GroupMembersDelta(ctx context.Context, groupID, link string) (GroupDeltaPage, error)
}
