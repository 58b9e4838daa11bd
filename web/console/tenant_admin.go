package console

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/english"
	"presencebridge/internal/store"
	"presencebridge/internal/tenancy"
	"presencebridge/templates"
)

// The console's own section of a tenant, beside its tenant pages:
// /console/tenants/{id}/support. Support suspends, resumes or deletes the
// tenant (internal/tenancy: with a reason, after a confirmation), lets its
// monitors sign in with a password, and reads its subscriptions and the
// engine's last pass. Reading is for every role; the tenant routes let
// only support and admins post (changesNeed).

func (h *handler) supportRoutes(r chi.Router) {
	r.Get("/", h.support)
	r.Post("/suspend", h.lifecycle("suspend"))
	r.Post("/delete", h.lifecycle("delete"))
	r.Post("/resume", h.lifecycle("resume"))
	r.Post("/password-signin", h.passwordSignIn)
}

// supportDone are the notices a redirect back to the page shows
// (?done=…).
var supportDone = map[string]string{
	"suspend":      "The tenant is suspended.",
	"delete":       "The tenant is deleted.",
	"resume":       "The tenant is resumed.",
	"password-on":  "Monitors may now be signed in with their password, once.",
	"password-off": "Monitors can no longer be signed in with a password.",
}

// support is GET /console/tenants/{id}/support/.
func (h *handler) support(w http.ResponseWriter, r *http.Request) {
	h.supportPage(w, r, http.StatusOK, doneNotice(r, supportDone), "")
}

func (h *handler) supportPage(w http.ResponseWriter, r *http.Request, status int, n *templates.Notice, reasonError string) {
	ctx := r.Context()
	id := h.viewer(r).TenantID
	t, err := h.Store.GetTenant(ctx, id)
	if err != nil {
		h.fail(w, r, "get tenant", err)
		return
	}
	l, err := h.Store.GetTenantLifecycle(ctx, id)
	if err != nil {
		h.fail(w, r, "tenant lifecycle", err)
		return
	}
	eng, err := h.Store.EngineStatus(ctx, id)
	if err != nil {
		h.fail(w, r, "engine status", err)
		return
	}
	// A tenant made without an invitation has no onboarding to invite to.
	o, err := h.Store.GetOnboarding(ctx, id)
	if err != nil && !errors.Is(err, store.ErrTenantNotFound) {
		h.fail(w, r, "get onboarding", err)
		return
	}
	invitable := err == nil && l.Status == store.TenantOnboarding && o.CompletedAt == nil && h.Pages.Onboarding != nil
	subs, err := h.Store.SubscriptionDetails(ctx, id)
	if err != nil {
		h.fail(w, r, "subscription details", err)
		return
	}
	now := h.Now()
	v := templates.ConsoleSupportView{Notice: n, ReasonError: reasonError, Status: l.Status, Reason: l.Reason, ChangedBy: l.ChangedBy,
		AtGraph: l.SubscriptionsAt, PasswordSignIn: t.AllowPasswordSignIn, TenantID: id.String(),
		Invitable:  invitable,
		CanSuspend: l.Status == store.TenantOnboarding || l.Status == store.TenantActive,
		CanResume:  l.Status == store.TenantSuspended || l.Status == store.TenantDeleted,
		CanDelete:  l.Status != store.TenantDeleted,
		Engine:     engineView(eng, now)}
	if l.ChangedAt != nil {
		v.ChangedAt = stamp(*l.ChangedAt)
	}
	if l.PurgeAfter != nil {
		v.PurgeDate = day(*l.PurgeAfter)
	}
	for _, s := range subs {
		v.Subscriptions = append(v.Subscriptions, subscriptionView(s, now))
	}
	h.render(w, r, status, templates.ConsoleSupport(h.tenantFrame(r, t.Name), v))
}

// tenantFrame is the tenant pages' frame for the console's own section.
func (h *handler) tenantFrame(r *http.Request, company string) templates.TenantFrame {
	v := h.viewer(r)
	return templates.TenantFrame{Base: v.Base, Section: "support", Company: company, SignedInAs: v.Name, SignOut: v.SignOut,
		CSRF: h.csrf.Token(r.Context()), CanChange: v.CanChange, Back: v.Back, BackLabel: v.BackLabel, More: v.More}
}

func engineView(e store.EngineTenant, now time.Time) templates.ConsoleEngineView {
	v := templates.ConsoleEngineView{LastError: e.LastError, Users: e.Users, Monitors: e.Monitors, Unmonitored: e.Unmonitored,
		LastPass: "never", LastRepair: "never"}
	if e.LastReconciledAt != nil {
		v.LastPass = ago(now, *e.LastReconciledAt) + " (" + stamp(*e.LastReconciledAt) + ")"
	}
	if e.LastRepairAt != nil {
		v.LastRepair = ago(now, *e.LastRepairAt) + " (" + stamp(*e.LastRepairAt) + ")"
	}
	return v
}

// renewWarning is how close to its expiry a subscription is shown as
// due: the engine renews 10 to 20 minutes before (ARCHITECTURE.md).
const renewWarning = 10 * time.Minute

func subscriptionView(s store.SubscriptionDetail, now time.Time) templates.ConsoleSubscription {
	v := templates.ConsoleSubscription{Monitor: s.MonitorUPN, GraphID: s.GraphID, Users: s.Users, LastError: s.LastError,
		Abandoned: s.AbandonedAt != nil, Renewals: s.Renewals, Expires: "not created at Graph", LastNotification: "never"}
	if s.ExpiresAt != nil {
		left := s.ExpiresAt.Sub(now)
		v.ExpiresAt = stamp(*s.ExpiresAt)
		v.Expires, v.State = "expires in "+until(left), "ok"
		switch {
		case left <= 0:
			v.Expires, v.State = "expired "+ago(now, *s.ExpiresAt), "bad"
		case left < renewWarning:
			v.State = "pending"
		}
	}
	if s.LastNotificationAt != nil {
		v.LastNotification = ago(now, *s.LastNotificationAt)
	}
	return v
}

// until says how long d is, in its two largest units.
func until(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return english.Count(int(d/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		return english.Count(int(d/time.Hour), "hour", "hours") + " " + english.Count(int(d%time.Hour/time.Minute), "minute", "minutes")
	}
	return english.Count(int(d/(24*time.Hour)), "day", "days")
}

func stamp(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }
func day(t time.Time) string   { return t.UTC().Format("2 January 2006") }

// lifecycle is POST …/support/{suspend,delete,resume}. Suspending and
// deleting need a reason and ask first: the form's first post shows what
// will happen (for a deletion, the date the data goes) with a button that
// posts again with confirm=yes; only that one changes the tenant.
func (h *handler) lifecycle(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		who := h.viewer(r)
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if action != "resume" && reason == "" {
			h.supportPage(w, r, http.StatusUnprocessableEntity, nil, "Say why: support and the customer read it later.")
			return
		}
		if !store.Storable(reason) {
			h.supportPage(w, r, http.StatusUnprocessableEntity, nil, store.NotText)
			return
		}
		if r.PostFormValue("confirm") != "yes" {
			t, err := h.Store.GetTenant(ctx, who.TenantID)
			if err != nil {
				h.fail(w, r, "get tenant", err)
				return
			}
			h.render(w, r, http.StatusOK, templates.ConsoleConfirm(h.tenantFrame(r, t.Name), templates.ConsoleConfirmView{
				Action: action, Company: t.Name, Reason: reason, PurgeDate: day(h.Tenancy.PurgeDate())}))
			return
		}
		var err error
		switch action {
		case "suspend":
			_, err = h.Tenancy.Suspend(ctx, who.TenantID, reason, who.Actor)
		case "delete":
			_, err = h.Tenancy.Delete(ctx, who.TenantID, reason, who.Actor)
		default:
			_, err = h.Tenancy.Resume(ctx, who.TenantID, who.Actor)
		}
		if refusal, ok := errors.AsType[*tenancy.Refusal](err); ok {
			h.supportPage(w, r, http.StatusConflict, &templates.Notice{Title: refusal.Message}, "")
			return
		}
		if err != nil {
			h.fail(w, r, action+" tenant", err)
			return
		}
		http.Redirect(w, r, who.Base+"/support/?done="+action, http.StatusSeeOther)
	}
}

// passwordSignIn is POST …/support/password-signin: allow=yes lets the
// tenant's monitors be signed in with their password, anything else
// stops it.
func (h *handler) passwordSignIn(w http.ResponseWriter, r *http.Request) {
	who := h.viewer(r)
	allow := r.PostFormValue("allow") == "yes"
	if err := h.Tenancy.AllowPasswordSignIn(r.Context(), who.TenantID, allow, who.Actor); err != nil {
		h.fail(w, r, "allow password sign-in", err)
		return
	}
	done := "password-off"
	if allow {
		done = "password-on"
	}
	http.Redirect(w, r, who.Base+"/support/?done="+done, http.StatusSeeOther)
}
