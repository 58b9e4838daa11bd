// Package notification reads Microsoft Graph change notifications: the
// changeNotificationCollection a webhook receives, the decryption of rich
// (includeResourceData) notifications and the check of their
// validationTokens. It has no dependency on msgraph-sdk-go, so the intake
// and its tests stay light.
//
// Sources: docs/graph.md#notification-payload (payload), docs/graph.md#rich-notifications
// (decryption), docs/graph.md#validation-tokens (validation tokens), docs/graph.md#lifecycle-notifications (lifecycle notifications).
package notification

import (
	"errors"
	"fmt"

	"github.com/goccy/go-json"

	"presencebridge/internal/graph/graphapi"
)

// Collection is a changeNotificationCollection: one POST's items, possibly
// for several subscriptions and tenants, and (for rich notifications) one
// validation token per app and tenant.
type Collection struct {
	Value            []Notification `json:"value"`
	ValidationTokens []string       `json:"validationTokens"`
}

// Notification is one changeNotification, or a lifecycle notification when
// LifecycleEvent is set (then ChangeType, Resource and ResourceData are
// absent).
type Notification struct {
	ID                     string            `json:"id,omitempty"`
	SubscriptionID         string            `json:"subscriptionId"`
	SubscriptionExpiration Time              `json:"subscriptionExpirationDateTime"`
	ChangeType             string            `json:"changeType,omitempty"`
	LifecycleEvent         string            `json:"lifecycleEvent,omitempty"`
	ClientState            string            `json:"clientState,omitempty"`
	Resource               string            `json:"resource,omitempty"`
	ResourceData           *ResourceData     `json:"resourceData,omitempty"`
	TenantID               string            `json:"tenantId"`
	EncryptedContent       *EncryptedContent `json:"encryptedContent,omitempty"`
}

// ResourceData identifies the changed resource. For presence the user id
// is ID: never parse it out of Resource, whose spelling varies.
type ResourceData struct {
	ODataType string `json:"@odata.type"`
	ODataID   string `json:"@odata.id"`
	ID        string `json:"id"`
}

// EncryptedContent is a rich notification's resource, encrypted for us.
type EncryptedContent struct {
	Data                            string `json:"data"`
	DataSignature                   string `json:"dataSignature"`
	DataKey                         string `json:"dataKey"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// Lifecycle events.
const (
	ReauthorizationRequired = "reauthorizationRequired"
	SubscriptionRemoved     = "subscriptionRemoved"
	Missed                  = "missed"
)

// Time parses Graph's date-times leniently: with or without a zone (a
// missing zone is UTC) and with up to 7 fractional digits (docs/graph.md#notification-payload).
type Time = graphapi.Time

// ErrNotCollection is a body that is not a change notification collection.
var ErrNotCollection = errors.New("notification: the body is not a change notification collection")

// Parse reads a webhook body: one JSON value, nothing after it. Decoded
// in place: a Decoder over a copy of the body as a string copied it twice
// more (the string, the Decoder's buffer as it grew) before scanning it
// twice, as Unmarshal does — 446 KB allocated to read a row of 76 KB and
// 0.82–1.12 ms of CPU, now 104 KB and 0.64–0.75 ms (BenchmarkParse,
// alternated); Parse was 0.35 s of serve's 8.7 s CPU profile at 1,000
// changes/s with a million users (issue 16).
func Parse(body []byte) (Collection, error) {
	var c Collection
	if err := Unmarshal(body, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrNotCollection, err)
	}
	if c.Value == nil {
		return c, fmt.Errorf("%w: no value array", ErrNotCollection)
	}
	for i, n := range c.Value {
		if n.SubscriptionID == "" {
			return c, fmt.Errorf("%w: item %d has no subscriptionId", ErrNotCollection, i)
		}
	}
	return c, nil
}

// Unmarshal decodes what Graph POSTs, wherever we read it: the webhook's
// door (web/graphhook) and the processor, so that the door checks what
// the processor acts on. It is github.com/goccy/go-json, which decodes as
// encoding/json does — the same errors, field matching, duplicate keys
// and invalid UTF-8 (FuzzUnmarshalDecodesAsEncodingJSON compares them) —
// 5–8 times faster: a POST of 10 rich items in 15 µs against 118 µs,
// where encoding/json's validation pass (checkValid) alone was 9.5 % of
// serve's CPU at 5,000 changes/s and the door and the processor each
// decode every body (issue 16).
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Presence is a presence resource from a decrypted rich notification:
// every property of the resource (docs/graph.md#notification-payload),
// the status message, out-of-office settings and work location included.
type Presence struct {
	ODataType      string `json:"@odata.type"`
	ID             string `json:"id"`
	Availability   string `json:"availability"`
	Activity       string `json:"activity"`
	SequenceNumber string `json:"sequenceNumber"`
	graphapi.RichPresence
}
