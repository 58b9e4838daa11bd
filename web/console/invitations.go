package console

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// Invitations (/console/invitations): support creates one for a new
// customer (a tenant in onboarding and its link, shown once to copy),
// withdraws one, or invites a tenant still in onboarding again — the
// onboarding service's rules, which the `invite` command follows too.

// invitesPage is how many invitations the list shows at once.
const invitesPage = 50

// inviteTTLs are the lifetimes a new invitation may be given here (the
// service refuses any other above onboarding.MaxInviteTTL).
var inviteTTLs = []templates.Option{
	{Value: "1h", Label: "1 hour"}, {Value: "24h", Label: "1 day"}, {Value: "72h", Label: "3 days"}, {Value: "168h", Label: "7 days"},
}

// flashInvite carries a new invitation's link to the page after the
// redirect, sealed in the session.
const flashInvite = "console.invite"

type newInvite struct {
	Tenant  string    `json:"t"`
	URL     string    `json:"u"`
	Expires time.Time `json:"e"`
}

func (h *handler) invitationRoutes(r chi.Router) {
	r.Use(changesNeed(staff.Support, h))
	r.Get("/", h.invitations)
	r.Post("/", h.createInvitation)
	r.Post("/reinvite", h.reinvite)
	r.Post("/{inviteID}/revoke", h.revokeInvitation)
}

// invitations is GET /console/invitations/: those in force (?all=1: every
// one), newest first, a page at a time, and the link just made.
func (h *handler) invitations(w http.ResponseWriter, r *http.Request) {
	h.invitationsPage(w, r, http.StatusOK, nil, templates.ConsoleInviteForm{TTL: "168h"})
}

func (h *handler) invitationsPage(w http.ResponseWriter, r *http.Request, status int, n *templates.Notice, form templates.ConsoleInviteForm) {
	ctx := r.Context()
	all := r.URL.Query().Get("all") == "1"
	now := h.Now()
	q := store.InviteListQuery{InForce: !all, Now: now, Limit: invitesPage}
	first := Prefix + "/invitations/"
	if all {
		first += "?all=1"
	}
	var c store.InviteCursor
	if decodeCursor(r.URL.Query().Get("after"), &c) {
		q.After = &c
	}
	page, more, err := h.Store.InviteList(ctx, q)
	if err != nil {
		h.fail(w, r, "invite list", err)
		return
	}
	v := templates.ConsoleInvitationsView{All: all, Notice: n, Form: form, TTLs: inviteTTLs, CanCreate: h.Pages.Onboarding != nil}
	if v.Notice == nil {
		v.Notice = doneNotice(r, map[string]string{"revoked": "The invitation is withdrawn: its link opens nothing any more."})
	}
	var made newInvite
	h.takeOnce(r, flashInvite, &made)
	if made.URL != "" {
		v.Made = &templates.ConsoleNewInvite{Tenant: made.Tenant, Link: templates.CopyLink{URL: made.URL, Expires: stamp(made.Expires)}}
	}
	for _, i := range page {
		v.Invites = append(v.Invites, inviteRow(i, now))
	}
	if more {
		last := page[len(page)-1]
		sep := "?"
		if all {
			sep = "&"
		}
		v.Next = first + sep + url.Values{"after": {encodeCursor(store.InviteCursor{CreatedAt: last.CreatedAt, ID: last.ID})}}.Encode()
	}
	if q.After != nil {
		v.First = first
	}
	h.render(w, r, status, templates.ConsoleInvitations(h.frame(r, "invitations"), v))
}

func inviteRow(i store.InviteRow, now time.Time) templates.ConsoleInvite {
	row := templates.ConsoleInvite{ID: i.ID.String(), TenantID: i.TenantID.String(), Tenant: i.TenantName, TenantURL: tenantBase(i.TenantID) + "/support/",
		CreatedBy: i.CreatedBy, Created: ago(now, i.CreatedAt), BoundUPN: i.BoundUPN, Reinvitable: !i.Done}
	switch {
	case i.RevokedAt != nil:
		row.State, row.Expires = "withdrawn", "withdrawn "+ago(now, *i.RevokedAt)
	case i.Done:
		row.State, row.Expires = "used", "onboarding complete"
	case !now.Before(i.ExpiresAt):
		row.State, row.Expires = "expired", "expired "+ago(now, i.ExpiresAt)
	default:
		row.State, row.Expires, row.Revocable = "in force", "expires in "+until(i.ExpiresAt.Sub(now)), true
	}
	return row
}

// createInvitation is POST /console/invitations/: a tenant in onboarding
// named name and its invitation, valid for ttl; the link is shown once,
// on the page the redirect leads to.
func (h *handler) createInvitation(w http.ResponseWriter, r *http.Request) {
	form := templates.ConsoleInviteForm{Name: strings.TrimSpace(r.PostFormValue("name")), TTL: r.PostFormValue("ttl")}
	if h.Pages.Onboarding == nil {
		h.invitationsPage(w, r, http.StatusServiceUnavailable, &templates.Notice{Title: "Invitations cannot be made on this server."}, form)
		return
	}
	if form.Name == "" {
		form.NameError = "Enter the customer's name, as their onboarding page shows it."
		h.invitationsPage(w, r, http.StatusUnprocessableEntity, nil, form)
		return
	}
	if !store.Storable(form.Name) {
		form.NameError = store.NotText
		h.invitationsPage(w, r, http.StatusUnprocessableEntity, nil, form)
		return
	}
	ttl, err := inviteTTL(form.TTL)
	if err != nil {
		h.invitationsPage(w, r, http.StatusUnprocessableEntity, &templates.Notice{Title: "The link's lifetime " + strings.TrimSuffix(err.Error(), ".") + "."}, form)
		return
	}
	t, link, err := h.Pages.Onboarding.CreateInvite(r.Context(), form.Name, staff.Actor(memberOf(r.Context()).Email), ttl)
	if err != nil {
		h.fail(w, r, "create invite", err)
		return
	}
	h.showInvite(w, r, newInvite{Tenant: t.Name, URL: link, Expires: h.Now().Add(ttl)})
}

// inviteTTL reads a lifetime of the form, within the service's bounds.
func inviteTTL(s string) (time.Duration, error) {
	ttl, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("is not a duration such as 72h")
	}
	return ttl, onboarding.CheckInviteTTL(ttl)
}

// showInvite leaves the new link for the next page view and goes there.
func (h *handler) showInvite(w http.ResponseWriter, r *http.Request, made newInvite) {
	b, _ := json.Marshal(made)
	if err := h.Sessions.PutSealed(r.Context(), flashInvite, b); err != nil {
		h.fail(w, r, "keep the invitation link", err)
		return
	}
	http.Redirect(w, r, Prefix+"/invitations/?done=created", http.StatusSeeOther)
}

// takeOnce fills v with what an action left under key for this page view.
func (h *handler) takeOnce(r *http.Request, key string, v any) {
	b, err := h.Sessions.PopSealed(r.Context(), key)
	if err != nil {
		h.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console: what an action left to show is lost", slog.String("key", key), slog.Any("err", err))
		return
	}
	if b != nil {
		json.Unmarshal(b, v)
	}
}

// reinvite is POST /console/invitations/reinvite: a new invitation for
// the tenant (form field tenant) still in onboarding, its earlier ones
// withdrawn, valid 7 days.
func (h *handler) reinvite(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := uuid.Parse(r.PostFormValue("tenant"))
	if h.Pages.Onboarding == nil || err != nil {
		http.Error(w, "no such tenant", http.StatusBadRequest)
		return
	}
	link, err := h.Pages.Onboarding.Reinvite(ctx, id, staff.Actor(memberOf(ctx).Email), onboarding.DefaultInviteTTL)
	if p, ok := errors.AsType[*onboarding.Problem](err); ok {
		h.invitationsPage(w, r, http.StatusConflict, &templates.Notice{Title: p.Title, Detail: p.Detail}, templates.ConsoleInviteForm{TTL: "168h"})
		return
	}
	if errors.Is(err, store.ErrTenantNotFound) {
		http.Error(w, "no such tenant", http.StatusBadRequest)
		return
	}
	if err != nil {
		h.fail(w, r, "reinvite", err)
		return
	}
	t, err := h.Store.GetTenant(ctx, id)
	if err != nil {
		h.fail(w, r, "get tenant", err)
		return
	}
	h.showInvite(w, r, newInvite{Tenant: t.Name, URL: link, Expires: h.Now().Add(onboarding.DefaultInviteTTL)})
}

// revokeInvitation is POST /console/invitations/{inviteID}/revoke.
func (h *handler) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := uuid.Parse(chi.URLParam(r, "inviteID"))
	if err != nil || h.Pages.Onboarding == nil {
		http.Error(w, "no such invitation", http.StatusNotFound)
		return
	}
	err = h.Pages.Onboarding.WithdrawInvite(ctx, id, staff.Actor(memberOf(ctx).Email))
	if errors.Is(err, store.ErrTenantNotFound) {
		http.Error(w, "no such invitation", http.StatusNotFound)
		return
	}
	if err != nil {
		h.fail(w, r, "withdraw invite", err)
		return
	}
	http.Redirect(w, r, Prefix+"/invitations/?done=revoked", http.StatusSeeOther)
}

// doneNotice is the notice of ?done= after an action's redirect, from
// messages; nil for none.
func doneNotice(r *http.Request, messages map[string]string) *templates.Notice {
	if msg := messages[r.URL.Query().Get("done")]; msg != "" {
		return &templates.Notice{Title: msg, OK: true}
	}
	return nil
}
