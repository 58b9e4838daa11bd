package graphsim

import (
	"bytes"
	"cmp"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// A snapshot is what a client of the emulated cloud relies on across a
// restart of graphsim, as it relies on Microsoft never forgetting: the
// directory (tenants, accounts, groups, deleted items), app registrations
// with their secrets and redirect URIs, consents (service principals, and
// those withdrawn), the refresh tokens issued (a product's sealed tokens
// keep working), the token-signing key (access tokens issued before stay
// valid), every user's presence with its sequence numbers, and the
// subscriptions with their notification URLs, client states and
// encryption certificates. Microsoft keeps a subscription until it
// expires, and tells nobody when it loses a presence subscription
// (docs/graph.md#lifecycle-notifications), so graphsim keeps them rather
// than let them lapse: a product's subscriptions keep notifying after the
// restart; one that expired meanwhile is gone, as at Graph.
//
// Not kept, as a client cannot count on them either: sign-ins in progress
// and authorization codes (ten minutes), delta tokens (a client whose
// link no longer works reads in full, docs/graph.md#delta-queries), and
// notifications on their way; nor the test scaffolding (faults, throttle
// limits and storms, churns, counters).

// snapshotVersion is the snapshot format; Restore reads only this one.
// Change it with any change of the format, the exported types it holds
// (User, Group, Grant, App, Presence) included.
const snapshotVersion = 1

type snapshot struct {
	Version       int                `json:"version"`
	SigningKey    []byte             `json:"signingKey"`  // PKCS #8
	SigningCert   []byte             `json:"signingCert"` // DER, as published in the JWKS (its thumbprint is the kid)
	Apps          []App              `json:"apps"`
	Tenants       []snapTenant       `json:"tenants"`
	RefreshTokens []snapRefresh      `json:"refreshTokens"`
	PresenceSeq   uint64             `json:"presenceSeq"`
	Presence      []snapPresence     `json:"presence"`
	Subscriptions []snapSubscription `json:"subscriptions"`
}

type snapTenant struct {
	ID          uuid.UUID `json:"id"`
	Domain      string    `json:"domain"`
	DisplayName string    `json:"displayName"`
	Users       []User    `json:"users"`
	Deleted     []User    `json:"deleted,omitempty"`
	Grants      []Grant   `json:"grants"`
	Withdrawn   []Grant   `json:"withdrawn,omitempty"`
	Groups      []Group   `json:"groups,omitempty"`
}

type snapRefresh struct {
	Token    string    `json:"token"`
	ClientID string    `json:"clientId"`
	TenantID uuid.UUID `json:"tenantId"`
	UserID   uuid.UUID `json:"userId"`
	Scopes   []string  `json:"scopes"`
	OIDC     []string  `json:"oidc"`
	Issued   time.Time `json:"issued"`
}

type snapPresence struct {
	UserID        uuid.UUID                `json:"userId"`
	TenantID      uuid.UUID                `json:"tenantId"`
	Sessions      map[string]snapSession   `json:"sessions,omitempty"`
	Preferred     *snapSession             `json:"preferred,omitempty"`
	Status        *StatusMessage           `json:"status,omitempty"`
	StatusExpires time.Time                `json:"statusExpires"`
	OutOfOffice   bool                     `json:"outOfOffice,omitempty"`
	OOFMessage    *string                  `json:"outOfOfficeMessage,omitempty"`
	Locations     map[string]snapWorkLayer `json:"locations,omitempty"`
	Current       Presence                 `json:"current"` // the last version notified, with its sequenceNumber
}

type snapSession struct {
	Availability string    `json:"availability"`
	Activity     string    `json:"activity"`
	Refreshed    time.Time `json:"refreshed"`
	Expires      time.Time `json:"expires"` // zero: never
}

type snapWorkLayer struct {
	Kind    string  `json:"kind"`
	PlaceID *string `json:"placeId,omitempty"`
}

type snapSubscription struct {
	ID              uuid.UUID `json:"id"`
	AppID           string    `json:"appId"`
	TenantID        uuid.UUID `json:"tenantId"`
	CreatorID       uuid.UUID `json:"creatorId"`
	Resource        string    `json:"resource"`
	ChangeType      string    `json:"changeType"`
	Created         time.Time `json:"created"`
	NotificationURL string    `json:"notificationUrl"`
	LifecycleURL    string    `json:"lifecycleNotificationUrl,omitempty"`
	Expiration      time.Time `json:"expiration"`
	ClientState     *string   `json:"clientState,omitempty"`
	Rich            bool      `json:"includeResourceData"`
	Certificate     *string   `json:"encryptionCertificate,omitempty"`
	CertificateID   *string   `json:"encryptionCertificateId,omitempty"`
	TLSVersion      string    `json:"latestSupportedTlsVersion"`
	ContentType     string    `json:"notificationContentType"`
	Authorized      time.Time `json:"authorized"`
	Paused          bool      `json:"paused,omitempty"`
	LastReauth      time.Time `json:"lastReauthorizationRequired"`
}

// Snapshot is the Sim's state in the snapshot format: JSON, the same bytes
// for the same state (ordered by id), so a caller can tell a change.
func (s *Sim) Snapshot() ([]byte, error) {
	snap := snapshot{Version: snapshotVersion, SigningCert: s.signer.cert}
	var err error
	if snap.SigningKey, err = x509.MarshalPKCS8PrivateKey(s.signer.key); err != nil {
		return nil, fmt.Errorf("graphsim snapshot: signing key: %w", err)
	}
	s.snapshotDirectory(&snap)
	s.snapshotPresence(&snap)
	s.snapshotSubscriptions(&snap)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	if err := enc.Encode(snap); err != nil {
		return nil, fmt.Errorf("graphsim snapshot: %w", err)
	}
	return b.Bytes(), nil
}

func byID[T any](id func(T) uuid.UUID) func(a, b T) int {
	return func(a, b T) int {
		x, y := id(a), id(b)
		return bytes.Compare(x[:], y[:])
	}
}

// copies returns copies of m's values, sorted: the snapshot is encoded
// after the lock is released, so it must share nothing that changes.
func copies[K comparable, V any](m map[K]*V, copy func(V) V, compare func(a, b V) int) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, copy(*v))
	}
	slices.SortFunc(out, compare)
	return out
}

func (s *Sim) snapshotDirectory(snap *snapshot) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock()
	byUser := byID(func(u User) uuid.UUID { return u.ID })
	byClient := func(a, b Grant) int { return strings.Compare(a.ClientID, b.ClientID) }
	same := func(u User) User { return u }
	grant := func(g Grant) Grant { g.Scopes, g.Roles = slices.Clone(g.Scopes), slices.Clone(g.Roles); return g }
	snap.Apps = copies(s.apps, func(a App) App {
		a.Secrets, a.RedirectURIs = slices.Clone(a.Secrets), slices.Clone(a.RedirectURIs)
		return a
	}, func(a, b App) int { return strings.Compare(a.ClientID, b.ClientID) })
	for _, t := range s.tenants {
		snap.Tenants = append(snap.Tenants, snapTenant{ID: t.ID, Domain: t.Domain, DisplayName: t.DisplayName,
			Users: copies(t.users, same, byUser), Deleted: copies(t.deleted, same, byUser),
			Grants: copies(t.grants, grant, byClient), Withdrawn: copies(t.withdrawn, grant, byClient),
			Groups: copies(t.groups, func(g Group) Group { g.Members = slices.Clone(g.Members); return g }, byID(func(g Group) uuid.UUID { return g.ID }))})
	}
	slices.SortFunc(snap.Tenants, byID(func(t snapTenant) uuid.UUID { return t.ID }))
	for tok, r := range s.refresh {
		if now.Sub(r.issued) > refreshTokenLifetime {
			continue // expired: refused whether kept or not
		}
		snap.RefreshTokens = append(snap.RefreshTokens, snapRefresh{Token: tok, ClientID: r.app.ClientID, TenantID: r.tenant.ID,
			UserID: r.user.ID, Scopes: r.scopes, OIDC: r.oidc, Issued: r.issued})
	}
	slices.SortFunc(snap.RefreshTokens, func(a, b snapRefresh) int { return strings.Compare(a.Token, b.Token) })
}

func (s *Sim) snapshotPresence(snap *snapshot) {
	b := s.presence
	b.mu.Lock()
	defer b.mu.Unlock()
	snap.PresenceSeq = b.seq
	for id, u := range b.users {
		p := snapPresence{UserID: id, TenantID: u.tenant, Status: u.status, StatusExpires: u.statusExp,
			OutOfOffice: u.oof, OOFMessage: u.oofMsg, Current: u.current}
		for k, sess := range u.sessions {
			if p.Sessions == nil {
				p.Sessions = map[string]snapSession{}
			}
			p.Sessions[k] = snapSession{sess.availability, sess.activity, sess.refreshed, sess.expires}
		}
		if u.preferred != nil {
			p.Preferred = &snapSession{Availability: u.preferred.availability, Activity: u.preferred.activity, Expires: u.preferred.expires}
		}
		for k, l := range u.locations {
			if p.Locations == nil {
				p.Locations = map[string]snapWorkLayer{}
			}
			p.Locations[k] = snapWorkLayer{l.kind, l.placeID}
		}
		snap.Presence = append(snap.Presence, p)
	}
	slices.SortFunc(snap.Presence, byID(func(p snapPresence) uuid.UUID { return p.UserID }))
}

func (s *Sim) snapshotSubscriptions(snap *snapshot) {
	st := s.notify.subs
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, sub := range st.byID {
		snap.Subscriptions = append(snap.Subscriptions, snapSubscription{ID: sub.id, AppID: sub.appID, TenantID: sub.tenantID,
			CreatorID: sub.creatorID, Resource: sub.resource, ChangeType: sub.changeType, Created: sub.created,
			NotificationURL: sub.notificationURL, LifecycleURL: sub.lifecycleURL, Expiration: sub.expiration,
			ClientState: sub.clientState, Rich: sub.rich, Certificate: sub.certB64, CertificateID: sub.certID,
			TLSVersion: sub.tlsVersion, ContentType: sub.contentType, Authorized: sub.authorized, Paused: sub.paused,
			LastReauth: sub.lastReauth})
	}
	slices.SortFunc(snap.Subscriptions, func(a, b snapSubscription) int {
		return cmp.Or(a.Created.Compare(b.Created), bytes.Compare(a.ID[:], b.ID[:]))
	})
}

// Restore replaces the Sim's state with a snapshot's. Call it before the
// Sim serves anything: the signing key changes under it.
func (s *Sim) Restore(b []byte) error {
	var snap snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("graphsim snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("graphsim snapshot: format version %d, this graphsim reads version %d", snap.Version, snapshotVersion)
	}
	key, err := x509.ParsePKCS8PrivateKey(snap.SigningKey)
	rsaKey, ok := key.(*rsa.PrivateKey)
	if err != nil || !ok {
		return fmt.Errorf("graphsim snapshot: the signing key is not an RSA key in PKCS #8 (%v)", err)
	}
	s.restoreDirectory(snap, rsaKey)
	s.restorePresence(snap)
	return s.restoreSubscriptions(snap)
}

func (s *Sim) restoreDirectory(snap snapshot, key *rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signer = signerWith(key, snap.SigningCert)
	s.tenants, s.byDomain, s.users = map[uuid.UUID]*Tenant{}, map[string]*Tenant{}, map[uuid.UUID]*User{}
	s.apps, s.refresh = map[string]*App{}, map[string]*refreshRecord{}
	s.pending, s.codes = map[string]*authRequest{}, map[string]*authCode{}
	for _, app := range snap.Apps {
		s.apps[app.ClientID] = &app
	}
	everyone := map[uuid.UUID]*User{} // deleted accounts too: their refresh tokens are kept
	for _, st := range snap.Tenants {
		t := &Tenant{ID: st.ID, Domain: st.Domain, DisplayName: st.DisplayName, users: map[uuid.UUID]*User{},
			byUPN: map[string]*User{}, grants: map[string]*Grant{}}
		for _, u := range st.Users {
			t.users[u.ID], t.byUPN[strings.ToLower(u.UPN)], s.users[u.ID], everyone[u.ID] = &u, &u, &u, &u
		}
		for _, u := range st.Deleted {
			if t.deleted == nil {
				t.deleted = map[uuid.UUID]*User{}
			}
			t.deleted[u.ID], everyone[u.ID] = &u, &u
		}
		for _, g := range st.Grants {
			t.grants[g.ClientID] = &g
		}
		for _, g := range st.Withdrawn {
			if t.withdrawn == nil {
				t.withdrawn = map[string]*Grant{}
			}
			t.withdrawn[g.ClientID] = &g
		}
		for _, g := range st.Groups {
			t.groupMap()[g.ID] = &g
		}
		s.tenants[t.ID], s.byDomain[strings.ToLower(t.Domain)] = t, t
	}
	for _, r := range snap.RefreshTokens {
		app, t, u := s.apps[r.ClientID], s.tenants[r.TenantID], everyone[r.UserID]
		if app == nil || t == nil || u == nil {
			continue // its account was deleted for good: it could not be redeemed
		}
		s.refresh[r.Token] = &refreshRecord{app: app, tenant: t, user: u, scopes: r.Scopes, oidc: r.OIDC, issued: r.Issued}
	}
}

func (s *Sim) restorePresence(snap snapshot) {
	b := s.presence
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users, b.timed, b.seq = map[uuid.UUID]*userPresence{}, map[uuid.UUID]struct{}{}, snap.PresenceSeq
	for _, p := range snap.Presence {
		u := &userPresence{tenant: p.TenantID, sessions: map[string]*presenceSession{}, status: p.Status,
			statusExp: p.StatusExpires, oof: p.OutOfOffice, oofMsg: p.OOFMessage, current: p.Current}
		for k, sess := range p.Sessions {
			u.sessions[k] = &presenceSession{sess.Availability, sess.Activity, sess.Refreshed, sess.Expires}
		}
		if p.Preferred != nil {
			u.preferred = &preferredPresence{p.Preferred.Availability, p.Preferred.Activity, p.Preferred.Expires}
		}
		for k, l := range p.Locations {
			if u.locations == nil {
				u.locations = map[string]workLocationLayer{}
			}
			u.locations[k] = workLocationLayer{l.Kind, l.PlaceID}
		}
		b.users[p.UserID] = u
		// The next tick settles what time changed while graphsim was
		// down (sessions idle or expired), notifying as it would have.
		b.timed[p.UserID] = struct{}{}
	}
}

func (s *Sim) restoreSubscriptions(snap snapshot) error {
	now := s.clock()
	st := s.notify.subs
	st.mu.Lock()
	defer st.mu.Unlock()
	st.byID, st.byUser = map[uuid.UUID]*subscription{}, map[uuid.UUID][]*subscription{}
	for _, x := range snap.Subscriptions {
		if !now.Before(x.Expiration) {
			continue // expired while graphsim was down: Graph has deleted it
		}
		res, err := parsePresenceResource(x.Resource)
		if err != nil {
			return fmt.Errorf("graphsim snapshot: subscription %s: %w", x.ID, err)
		}
		sub := &subscription{id: x.ID, appID: x.AppID, tenantID: x.TenantID, creatorID: x.CreatorID, resource: x.Resource,
			res: res, changeType: x.ChangeType, created: x.Created, authorized: x.Authorized, paused: x.Paused, lastReauth: x.LastReauth,
			subSettings: subSettings{notificationURL: x.NotificationURL, lifecycleURL: x.LifecycleURL, expiration: x.Expiration,
				clientState: x.ClientState, rich: x.Rich, certB64: x.Certificate, certID: x.CertificateID,
				tlsVersion: x.TLSVersion, contentType: x.ContentType}}
		if x.Certificate != nil {
			if sub.cert, err = parseEncryptionCertificate(*x.Certificate); err != nil {
				return fmt.Errorf("graphsim snapshot: subscription %s: %w", x.ID, err)
			}
		}
		st.addLocked(sub)
	}
	return nil
}
