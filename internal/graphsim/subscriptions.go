package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// /v1.0/subscriptions for presence resources, as Microsoft documents them
// in docs/graph.md: #presence-subscriptions (resources and limits),
// #subscription-fields, #subscription-operations, #validation-handshake and
// #throttling (the subscription API budget).
// Presence subscriptions are delegated only, live at most an hour, name at
// most 650 users, and one user holds one per application.

func (s *Sim) subscriptionRoutes(r chi.Router) {
	r.Post("/subscriptions", s.createSubscription)
	r.Get("/subscriptions", s.listSubscriptions)
	r.Get("/subscriptions/{id}", s.getSubscription)
	r.Patch("/subscriptions/{id}", s.updateSubscription)
	r.Delete("/subscriptions/{id}", s.deleteSubscription)
	r.Post("/subscriptions/{id}/reauthorize", s.reauthorizeSubscription)
}

// subscriptionBody is a create or update request; pointers tell "absent"
// from "empty".
type subscriptionBody struct {
	ChangeType                *string `json:"changeType"`
	NotificationURL           *string `json:"notificationUrl"`
	LifecycleNotificationURL  *string `json:"lifecycleNotificationUrl"`
	Resource                  *string `json:"resource"`
	ExpirationDateTime        *string `json:"expirationDateTime"`
	ClientState               *string `json:"clientState"`
	IncludeResourceData       *bool   `json:"includeResourceData"`
	EncryptionCertificate     *string `json:"encryptionCertificate"`
	EncryptionCertificateID   *string `json:"encryptionCertificateId"`
	LatestSupportedTLSVersion *string `json:"latestSupportedTlsVersion"`
	NotificationContentType   *string `json:"notificationContentType"`
}

// extensionError is how the presence workload behind /subscriptions
// reports refusals (seen on the wire: "Operation: Create; Exception:
// [Status Code: Forbidden; Reason: ...]").
func extensionError(w http.ResponseWriter, r *http.Request, status int, op, reason string) {
	writeGraphError(w, r, status, "ExtensionError",
		fmt.Sprintf("Operation: %s; Exception: [Status Code: %s; Reason: %s]", op, statusName(status), reason))
}

// statusName is .NET's HttpStatusCode name, which Graph's messages use.
func statusName(code int) string {
	if t := http.StatusText(code); t != "" {
		return strings.NewReplacer(" ", "", "-", "").Replace(t)
	}
	return fmt.Sprint(code)
}

const notAuthorized = "The request is not authorized for this user or application."

// presenceCaller spends the caller's subscription budget: every request
// counts against 5,000 / 20 s, writes also against 1,000 / 20 s per app
// per tenant (docs/graph.md#throttling).
func (s *Sim) presenceCaller(w http.ResponseWriter, r *http.Request, write bool) (*Principal, bool) {
	p := principal(r)
	if !s.admit(w, r, p, classSubscriptionAny) || (write && !s.admit(w, r, p, classSubscriptionWrite)) {
		return nil, false
	}
	return p, true
}

// presenceAllowed checks what every presence subscription operation needs:
// a delegated token with Presence.Read.All (docs/graph.md#presence-subscriptions: application
// permissions are not supported).
func presenceAllowed(w http.ResponseWriter, r *http.Request, p *Principal, op string) bool {
	if !p.Delegated() || !p.Has("Presence.Read.All") {
		extensionError(w, r, http.StatusForbidden, op, notAuthorized)
		return false
	}
	return true
}

func (s *Sim) createSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := s.presenceCaller(w, r, true)
	if !ok {
		return
	}
	var body subscriptionBody
	if !readGraphJSON(w, r, &body) {
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"changeType", body.ChangeType}, {"notificationUrl", body.NotificationURL}, {"resource", body.Resource},
		{"expirationDateTime", body.ExpirationDateTime}} {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest", f.name+" is a required property for subscription creation.")
			return
		}
	}
	res, err := parsePresenceResource(*body.Resource)
	if errors.Is(err, errNotPresence) {
		writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest",
			fmt.Sprintf("Resource '%s' is not supported for change notifications by this service.", truncate(*body.Resource, 200)))
		return
	}
	if !presenceAllowed(w, r, p, "Create") {
		return
	}
	if err != nil {
		extensionError(w, r, http.StatusBadRequest, "Create", err.Error())
		return
	}
	if len(res.IDs) > MaxPresenceIDs {
		extensionError(w, r, http.StatusBadRequest, "Create",
			fmt.Sprintf("The number of user ids (%d) exceeds the maximum of %d per subscription.", len(res.IDs), MaxPresenceIDs))
		return
	}
	if !strings.EqualFold(strings.TrimSpace(*body.ChangeType), "updated") {
		extensionError(w, r, http.StatusBadRequest, "Create",
			fmt.Sprintf("ChangeType '%s' is not supported for presence; only 'updated' is.", truncate(*body.ChangeType, 50)))
		return
	}
	now := s.clock()
	sub := &subscription{id: uuid.New(), appID: p.AppID, tenantID: p.TenantID, creatorID: p.UserID,
		resource: *body.Resource, res: res, changeType: "updated", created: now, authorized: now,
		subSettings: subSettings{tlsVersion: "v1_2", contentType: "application/json"}}
	if !s.applySubscriptionBody(w, r, &sub.subSettings, body, now, true) {
		return
	}
	n := s.notify
	if conflict := n.subs.conflict(sub); conflict != "" {
		writeGraphError(w, r, http.StatusConflict, "ExtensionError", conflict)
		return
	}
	if !n.handshake(w, r, sub.notificationURL, "") {
		return
	}
	if sub.lifecycleURL != "" && !n.handshake(w, r, sub.lifecycleURL, "") {
		return
	}
	st := n.subs
	st.mu.Lock()
	if conflict := st.conflictLocked(sub); conflict != "" { // another create won while we validated
		st.mu.Unlock()
		writeGraphError(w, r, http.StatusConflict, "ExtensionError", conflict)
		return
	}
	st.addLocked(sub)
	out := sub.resourceLocked()
	st.mu.Unlock()
	out.ODataContext = s.odataContext("subscriptions/$entity")
	writeJSON(w, http.StatusCreated, out)
	// The validation token its notifications will carry, issued now: an
	// emulator's signature, on the cores the load run measures the
	// product on, belongs with the subscription's making, not with the
	// first change to notify (Graph's own signing is not on our machine).
	if sub.rich {
		n.validationToken(sub.appID, sub.tenantID)
	}
}

// applySubscriptionBody validates and applies the writable fields of a
// create (all of them) or an update (expiration, URL, certificate).
func (s *Sim) applySubscriptionBody(w http.ResponseWriter, r *http.Request, sub *subSettings, body subscriptionBody, now time.Time, create bool) bool {
	bad := func(msg string) bool {
		writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest", msg)
		return false
	}
	if body.ExpirationDateTime != nil {
		exp, err := parseGraphTime(*body.ExpirationDateTime)
		if err != nil {
			return bad(fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", truncate(*body.ExpirationDateTime, 50)))
		}
		if !exp.After(now) {
			return bad("Subscription expiration time must be in the future.")
		}
		if exp.Sub(now) > maxPresenceSubscriptionLifetime {
			writeGraphError(w, r, http.StatusBadRequest, "ExtensionError",
				fmt.Sprintf("Subscription expiration can only be %d minutes in the future.", int(maxPresenceSubscriptionLifetime.Minutes())))
			return false
		}
		sub.expiration = exp
	}
	if body.NotificationURL != nil {
		if msg := s.notify.checkURL("notificationUrl", *body.NotificationURL); msg != "" {
			return bad(msg)
		}
		sub.notificationURL = *body.NotificationURL
	}
	if create && body.LifecycleNotificationURL != nil && *body.LifecycleNotificationURL != "" {
		if msg := s.notify.checkURL("lifecycleNotificationUrl", *body.LifecycleNotificationURL); msg != "" {
			return bad(msg)
		}
		sub.lifecycleURL = *body.LifecycleNotificationURL
	}
	if body.ClientState != nil {
		if len(*body.ClientState) > maxClientStateLength {
			return bad(fmt.Sprintf("clientState must not exceed %d characters.", maxClientStateLength))
		}
		cs := *body.ClientState
		sub.clientState = &cs
	}
	if create && body.IncludeResourceData != nil {
		sub.rich = *body.IncludeResourceData
	}
	if body.LatestSupportedTLSVersion != nil {
		switch v := *body.LatestSupportedTLSVersion; v {
		case "v1_0", "v1_1", "v1_2", "v1_3":
			sub.tlsVersion = v
		default:
			return bad(fmt.Sprintf("latestSupportedTlsVersion '%s' is not one of v1_0, v1_1, v1_2, v1_3.", truncate(v, 20)))
		}
	}
	if body.NotificationContentType != nil && *body.NotificationContentType != "" &&
		!strings.EqualFold(*body.NotificationContentType, "application/json") {
		return bad("notificationContentType must be application/json.")
	}
	if body.EncryptionCertificate != nil {
		cert, err := parseEncryptionCertificate(*body.EncryptionCertificate)
		if err != nil {
			return bad(err.Error())
		}
		b64 := *body.EncryptionCertificate
		sub.cert, sub.certB64 = cert, &b64
	}
	if body.EncryptionCertificateID != nil {
		if len(*body.EncryptionCertificateID) > maxCertificateIDLength {
			return bad(fmt.Sprintf("encryptionCertificateId must not exceed %d characters.", maxCertificateIDLength))
		}
		id := *body.EncryptionCertificateID
		sub.certID = &id
	}
	// Rich notifications need both (docs/graph.md#basic-and-rich-notifications, docs/graph.md#rich-notifications).
	if sub.rich && (sub.cert == nil || sub.certID == nil || *sub.certID == "") {
		return bad("A valid encryptionCertificate and encryptionCertificateId are required when includeResourceData is true.")
	}
	return true
}

// conflict is the 409 message when sub may not be created
// (docs/graph.md#subscription-operations: same changeType and resource → "Subscription Id <id> already
// exists for the requested combination"; docs/graph.md#presence-subscriptions: one presence subscription
// per user per application).
func (st *subStore) conflict(sub *subscription) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.conflictLocked(sub)
}

func (st *subStore) conflictLocked(sub *subscription) string {
	for _, x := range st.byID {
		if x.appID == sub.appID && x.changeType == sub.changeType && x.res.sameAs(sub.res) {
			return fmt.Sprintf("Subscription Id %s already exists for the requested combination", x.id)
		}
	}
	for _, x := range st.byID {
		if x.appID == sub.appID && x.creatorID == sub.creatorID {
			return fmt.Sprintf("Subscription Id %s already exists for this user and application: a user can create one presence subscription per application.", x.id)
		}
	}
	return ""
}

// lookupSubscription finds a live subscription of the caller's app in the
// caller's tenant, or answers 404 as Graph does for unknown (and expired,
// hence deleted) subscriptions.
func (s *Sim) lookupSubscription(w http.ResponseWriter, r *http.Request, p *Principal) *subscription {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	st := s.notify.subs
	st.mu.Lock()
	var sub *subscription
	if err == nil {
		sub = st.byID[id]
	}
	if sub != nil && !s.clock().Before(sub.expiration) {
		st.removeLocked(sub) // expired: Graph has deleted it (docs/graph.md#subscription-operations)
		sub = nil
	}
	st.mu.Unlock()
	if sub == nil || sub.appID != p.AppID || sub.tenantID != p.TenantID {
		writeGraphError(w, r, http.StatusNotFound, "ResourceNotFound",
			fmt.Sprintf("The object was not found. Subscription '%s' does not exist.", truncate(chi.URLParam(r, "id"), 64)))
		return nil
	}
	return sub
}

func (s *Sim) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	p, ok := s.presenceCaller(w, r, false)
	if !ok {
		return
	}
	now := s.clock()
	st := s.notify.subs
	st.mu.RLock()
	out := []Subscription{}
	for _, sub := range st.byID {
		// Delegated callers see what the app created for them; app-only
		// callers everything the app created in the tenant.
		if sub.appID != p.AppID || sub.tenantID != p.TenantID || !now.Before(sub.expiration) ||
			(p.Delegated() && sub.creatorID != p.UserID) {
			continue
		}
		out = append(out, sub.resourceLocked())
	}
	st.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.odataContext("subscriptions"), "value": out})
}

// ownSubscription admits a request on /subscriptions/{id} and finds the
// caller's subscription. Changes (op != "") need a delegated
// Presence.Read.All token; renewals and reauthorizations (consent) also the
// app's consent in the tenant.
func (s *Sim) ownSubscription(w http.ResponseWriter, r *http.Request, op string, consent bool) *subscription {
	p, ok := s.presenceCaller(w, r, op != "")
	if !ok {
		return nil
	}
	sub := s.lookupSubscription(w, r, p)
	if sub == nil || (op != "" && !presenceAllowed(w, r, p, op)) || (consent && !s.stillConsented(w, r, sub, op)) {
		return nil
	}
	return sub
}

func (s *Sim) getSubscription(w http.ResponseWriter, r *http.Request) {
	sub := s.ownSubscription(w, r, "", false)
	if sub == nil {
		return
	}
	st := s.notify.subs
	st.mu.RLock()
	out := sub.resourceLocked()
	st.mu.RUnlock()
	out.ODataContext = s.odataContext("subscriptions/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) updateSubscription(w http.ResponseWriter, r *http.Request) {
	sub := s.ownSubscription(w, r, "Update", true)
	if sub == nil {
		return
	}
	var body subscriptionBody
	if !readGraphJSON(w, r, &body) {
		return
	}
	st := s.notify.subs
	st.mu.RLock()
	draft := sub.subSettings // validated into a copy: the subscription changes only if all is well
	lifecycleURL, rich := sub.lifecycleURL, sub.rich
	st.mu.RUnlock()
	switch {
	case body.LifecycleNotificationURL != nil && *body.LifecycleNotificationURL != lifecycleURL:
		writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest",
			"lifecycleNotificationUrl can only be set when the subscription is created; delete the subscription and create it again.")
		return
	case body.Resource != nil && *body.Resource != sub.resource, body.ChangeType != nil && !strings.EqualFold(*body.ChangeType, sub.changeType),
		body.IncludeResourceData != nil && *body.IncludeResourceData != rich:
		writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest",
			"Only expirationDateTime, notificationUrl, clientState, encryptionCertificate, encryptionCertificateId and latestSupportedTlsVersion can be updated.")
		return
	}
	now := s.clock()
	if !s.applySubscriptionBody(w, r, &draft, body, now, false) {
		return
	}
	if body.NotificationURL != nil && sub.view.Load().url != draft.notificationURL &&
		!s.notify.handshake(w, r, draft.notificationURL, sub.id.String()) {
		return
	}
	st.mu.Lock()
	if sub.deleted {
		st.mu.Unlock()
		writeGraphError(w, r, http.StatusNotFound, "ResourceNotFound", "The object was not found.")
		return
	}
	if !draft.expiration.Equal(sub.expiration) {
		sub.lastReauth = time.Time{} // a renewal restarts the reauthorization schedule
		st.renewed++
	}
	sub.subSettings = draft
	// Renewing reauthorizes too (docs/graph.md#lifecycle-notifications).
	sub.paused, sub.authorized = false, now
	sub.refreshLocked()
	out := sub.resourceLocked()
	st.mu.Unlock()
	out.ODataContext = s.odataContext("subscriptions/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	sub := s.ownSubscription(w, r, "Delete", false)
	if sub == nil {
		return
	}
	st := s.notify.subs
	st.mu.Lock()
	if !sub.deleted {
		st.removeLocked(sub)
	}
	st.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// reauthorizeSubscription resumes a subscription paused for
// reauthorization; it does not extend its life (docs/graph.md#lifecycle-notifications).
func (s *Sim) reauthorizeSubscription(w http.ResponseWriter, r *http.Request) {
	sub := s.ownSubscription(w, r, "Reauthorize", true)
	if sub == nil {
		return
	}
	st := s.notify.subs
	st.mu.Lock()
	sub.paused, sub.authorized = false, s.clock()
	sub.refreshLocked()
	st.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// stillConsented refuses to renew or reauthorize once the admin revoked
// the app's consent in the tenant: access tokens outlive the grant by up to
// an hour, Graph's authorization check does not.
func (s *Sim) stillConsented(w http.ResponseWriter, r *http.Request, sub *subscription, op string) bool {
	s.mu.RLock()
	t := s.tenants[sub.tenantID]
	ok := t != nil && t.grants[sub.appID] != nil
	s.mu.RUnlock()
	if !ok {
		extensionError(w, r, http.StatusForbidden, op, notAuthorized)
	}
	return ok
}

// parseGraphTime reads a DateTimeOffset as Graph accepts it: RFC 3339 with
// any number of fractional digits, or without a zone (UTC).
func parseGraphTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a DateTimeOffset", v)
}
