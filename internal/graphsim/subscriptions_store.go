package graphsim

import (
	"crypto/rsa"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Presence subscription limits (docs/graph.md#presence-subscriptions, docs/graph.md#subscription-fields, docs/graph.md#rich-notifications).
const (
	maxPresenceSubscriptionLifetime = 60 * time.Minute
	maxClientStateLength            = 255
	maxCertificateIDLength          = 128
	minEncryptionKeyBits            = 2048
	maxEncryptionKeyBits            = 4096
)

// graphDateTime is how Graph writes DateTimeOffsets on subscriptions and
// notifications: seven fractional digits and Z ("2026-11-23T10:00:00.0000000Z").
const graphDateTime = "2006-01-02T15:04:05.0000000Z"

// subscription is one change-notification subscription. Fields below mu
// change with PATCH, reauthorize and lifecycle events; the dispatcher reads
// the immutable snapshot in view instead of locking.
type subscription struct {
	id         uuid.UUID
	appID      string
	tenantID   uuid.UUID
	creatorID  uuid.UUID
	resource   string // as the client sent it, echoed on GET
	res        presenceResource
	changeType string
	created    time.Time

	// guarded by subStore.mu
	subSettings
	authorized time.Time // last create, PATCH or reauthorize
	paused     bool      // reauthorization required: change notifications stop
	lastReauth time.Time // last reauthorizationRequired sent
	deleted    bool

	view atomic.Pointer[subView]
}

// subSettings are the fields a client sets: all at creation, some by PATCH.
type subSettings struct {
	notificationURL string
	lifecycleURL    string // creation only (docs/graph.md#lifecycle-notifications)
	expiration      time.Time
	clientState     *string
	rich            bool // creation only
	certB64         *string
	certID          *string
	cert            *encryptionCert
	tlsVersion      string
	contentType     string
}

// encryptionCert is a subscription's parsed encryptionCertificate.
type encryptionCert struct {
	pub        *rsa.PublicKey
	thumbprint string // upper-case hex SHA-1 of the DER (docs/graph.md#notification-payload)
}

// subView is what delivery needs of a subscription, frozen at a moment.
type subView struct {
	sub         *subscription
	id          string
	appID       string
	tenantID    uuid.UUID
	tenant      string
	creatorID   uuid.UUID
	url         string
	lifecycle   string
	clientState *string
	expiration  time.Time
	expires     string // graphDateTime
	rich        bool
	cert        *encryptionCert
	certID      string
	paused      bool
	deleted     bool
}

// refreshLocked republishes the view after a change; subStore.mu is held.
func (s *subscription) refreshLocked() {
	v := &subView{sub: s, id: s.id.String(), appID: s.appID, tenantID: s.tenantID, tenant: s.tenantID.String(),
		creatorID: s.creatorID, url: s.notificationURL, lifecycle: s.lifecycleURL, expiration: s.expiration,
		expires: s.expiration.UTC().Format(graphDateTime), rich: s.rich, cert: s.cert,
		paused: s.paused, deleted: s.deleted}
	if s.clientState != nil {
		cs := *s.clientState
		v.clientState = &cs
	}
	if s.certID != nil {
		v.certID = *s.certID
	}
	s.view.Store(v)
}

// Subscription is Graph's subscription resource as GET returns it.
type Subscription struct {
	ODataContext              string  `json:"@odata.context,omitempty"`
	ID                        string  `json:"id"`
	Resource                  string  `json:"resource"`
	ApplicationID             string  `json:"applicationId"`
	ChangeType                string  `json:"changeType"`
	ClientState               *string `json:"clientState"`
	NotificationURL           string  `json:"notificationUrl"`
	NotificationQueryOptions  *string `json:"notificationQueryOptions"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	ExpirationDateTime        string  `json:"expirationDateTime"`
	CreatorID                 string  `json:"creatorId"`
	IncludeResourceData       bool    `json:"includeResourceData"`
	LatestSupportedTLSVersion string  `json:"latestSupportedTlsVersion"`
	EncryptionCertificate     *string `json:"encryptionCertificate"`
	EncryptionCertificateID   *string `json:"encryptionCertificateId"`
	NotificationURLAppID      *string `json:"notificationUrlAppId"`
	NotificationContentType   string  `json:"notificationContentType"`
}

func (s *subscription) resourceLocked() Subscription {
	out := Subscription{ID: s.id.String(), Resource: s.resource, ApplicationID: s.appID, ChangeType: s.changeType,
		ClientState: s.clientState, NotificationURL: s.notificationURL,
		ExpirationDateTime: s.expiration.UTC().Format(graphDateTime), CreatorID: s.creatorID.String(),
		IncludeResourceData: s.rich, LatestSupportedTLSVersion: s.tlsVersion,
		EncryptionCertificate: s.certB64, EncryptionCertificateID: s.certID, NotificationContentType: s.contentType}
	if s.lifecycleURL != "" {
		u := s.lifecycleURL
		out.LifecycleNotificationURL = &u
	}
	return out
}

// subStore holds subscriptions by id and, for routing changes, by the
// users they cover. byUser slices are replaced, never changed in place, so
// a reader may keep one after unlocking.
type subStore struct {
	mu     sync.RWMutex
	byID   map[uuid.UUID]*subscription
	byUser map[uuid.UUID][]*subscription
	// renewed counts PATCHes that moved a subscription's expiration, and
	// lapsed the subscriptions deleted because they reached it (Coverage):
	// a load run counts what its product renewed and let lapse.
	renewed, lapsed int64
}

func newSubStore() *subStore {
	return &subStore{byID: map[uuid.UUID]*subscription{}, byUser: map[uuid.UUID][]*subscription{}}
}

// covering returns the subscriptions covering user; callers must not
// modify the slice.
func (st *subStore) covering(user uuid.UUID) []*subscription {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.byUser[user]
}

func (st *subStore) addLocked(s *subscription) {
	st.byID[s.id] = s
	for _, u := range s.res.IDs {
		old := st.byUser[u]
		next := make([]*subscription, len(old), len(old)+1)
		copy(next, old)
		st.byUser[u] = append(next, s)
	}
	s.refreshLocked()
}

func (st *subStore) removeLocked(s *subscription) {
	delete(st.byID, s.id)
	for _, u := range s.res.IDs {
		old := st.byUser[u]
		next := make([]*subscription, 0, len(old))
		for _, x := range old {
			if x != s {
				next = append(next, x)
			}
		}
		if len(next) == 0 {
			delete(st.byUser, u)
		} else {
			st.byUser[u] = next
		}
	}
	s.deleted = true
	s.refreshLocked()
}

// all lists every subscription (for lifecycle checks and the control API).
func (st *subStore) all() []*subscription {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]*subscription, 0, len(st.byID))
	for _, s := range st.byID {
		out = append(out, s)
	}
	return out
}

// Subscriptions lists every live subscription of every app, as Graph
// would show them to their creators.
func (s *Sim) Subscriptions() []Subscription {
	st := s.notify.subs
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]Subscription, 0, len(st.byID))
	for _, sub := range st.byID {
		out = append(out, sub.resourceLocked())
	}
	return out
}
