// Package graphapi is Microsoft Graph as Presence Bridge's domain packages
// see it: plain types, the errors they branch on and the small interfaces
// they depend on. It never imports msgraph-sdk-go, so depending on it costs
// nothing at build time; package graph implements the interfaces with the
// SDK, and only graph and cmd/ link it (make check-graph-deps).
package graphapi

import (
	"fmt"
	"strings"
	"time"
)

// MaxPresenceIDs is Graph's limit of user ids both per getPresencesByUserId
// call and per presence subscription's $filter, so also the most users one
// monitor account's subscription covers (docs/graph.md#presence-subscriptions;
// https://learn.microsoft.com/graph/api/cloudcommunications-getpresencesbyuserid,
// https://learn.microsoft.com/graph/api/resources/subscription).
const MaxPresenceIDs = 650

// Presence is one user's presence as Graph reports it. Values are kept as
// Graph spells them: Microsoft adds new ones (Focusing, say), so they are
// compared case-insensitively and never rejected.
type Presence struct {
	UserID       string
	Availability string
	Activity     string
	// StatusMessage (the message's text, "" for none) and OutOfOffice
	// are the short forms of what Rich holds in full.
	StatusMessage string
	OutOfOffice   bool
	// SequenceNumber orders changes of one user; Graph sends it as an
	// opaque string.
	SequenceNumber string
	Rich           RichPresence
}

// User is a directory user.
type User struct {
	ID             string
	UPN            string
	Mail           string
	DisplayName    string
	AccountEnabled bool
	// UserType is "Member" or "Guest" (an account of another organization
	// invited into this directory), as Graph's userType says.
	UserType string
}

// Subscription is a change-notification subscription as Graph returns it.
type Subscription struct {
	ID                       string
	Resource                 string
	ChangeType               string
	NotificationURL          string
	LifecycleNotificationURL string
	ExpiresAt                time.Time
	ClientState              string
	CreatorID                string
	ApplicationID            string
	IncludeResourceData      bool
	EncryptionCertificateID  string
}

// SubscriptionSpec is what CreateSubscription asks Graph for.
type SubscriptionSpec struct {
	// Resource is what to watch; PresenceResource builds the presence form.
	Resource string
	// ChangeType defaults to "updated", the only one presence supports.
	ChangeType string
	// NotificationURL must answer Graph's validation handshake; so must
	// LifecycleNotificationURL, which can only be set here, never later.
	NotificationURL          string
	LifecycleNotificationURL string
	// ExpiresAt is at most 60 minutes ahead for presence.
	ExpiresAt   time.Time
	ClientState string
	// IncludeResourceData asks for rich (encrypted) notifications, which
	// need EncryptionCertificate (base64 DER X.509, RSA 2048–4096) and
	// EncryptionCertificateID.
	IncludeResourceData     bool
	EncryptionCertificate   string
	EncryptionCertificateID string
}

// PresenceResource is the subscription resource for the presence of ids
// (at most MaxPresenceIDs): /communications/presences?$filter=id in ('a','b').
func PresenceResource(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = "'" + strings.ReplaceAll(id, "'", "''") + "'"
	}
	return fmt.Sprintf("/communications/presences?$filter=id in (%s)", strings.Join(quoted, ","))
}

// PresenceResourceIDs is the user ids a resource of PresenceResource
// names, in its order; ok is false for any other text.
func PresenceResourceIDs(resource string) (ids []string, ok bool) {
	list, ok := strings.CutPrefix(resource, "/communications/presences?$filter=id in (")
	if !ok {
		return nil, false
	}
	if list, ok = strings.CutSuffix(list, ")"); !ok || list == "" {
		return nil, false
	}
	for list != "" {
		if list[0] != '\'' {
			return nil, false
		}
		var id strings.Builder
		i := 1
		for ; i < len(list); i++ {
			if list[i] == '\'' {
				if i+1 < len(list) && list[i+1] == '\'' { // a quote doubled inside the literal
					id.WriteByte('\'')
					i++
					continue
				}
				break
			}
			id.WriteByte(list[i])
		}
		if i == len(list) {
			return nil, false // unterminated
		}
		ids = append(ids, id.String())
		list = list[i+1:]
		if list != "" {
			if list, ok = strings.CutPrefix(list, ","); !ok || list == "" {
				return nil, false
			}
		}
	}
	return ids, true
}

// DeltaPage is one page of a users delta round. Exactly one of NextLink
// (more pages follow: call again with it) and DeltaLink (the round is
// complete: keep it for the next round) is set.
type DeltaPage struct {
	Users     []User
	Removed   []RemovedUser
	NextLink  string
	DeltaLink string
}

// RemovedUser is a user a delta round reports as gone. Reason "changed"
// means soft-deleted (restorable for 30 days), "deleted" means gone for good.
type RemovedUser struct {
	ID     string
	Reason string
}

// SecretCredential is one client secret of an app registration; the secret
// itself is never returned, only its first characters (Hint).
type SecretCredential struct {
	KeyID       string
	DisplayName string
	Hint        string
	Expires     time.Time
}

// GroupDeltaPage is one page of a delta round over one group's direct
// members. Exactly one of NextLink and DeltaLink is set, as in DeltaPage.
// In the first round Members are everyone in the group; later, only the
// members added or removed since. A big group's members may come over
// several pages.
type GroupDeltaPage struct {
	Members []MemberChange
	// GroupRemoved: the group itself was deleted.
	GroupRemoved bool
	NextLink     string
	DeltaLink    string
}

// MemberChange is a direct member of a group as group delta reports it:
// only its id and type ("user", "group", or another directory object type
// as Graph names it without the namespace).
type MemberChange struct {
	ID      string
	Type    string
	Removed bool
}
