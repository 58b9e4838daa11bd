package onboarding

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// showOnboarding is GET /onboarding: the steps while in progress, the
// summary once complete.
func (h *handler) showOnboarding(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	st, err := h.svc.Status(r.Context(), tenantID)
	if err != nil {
		h.fail(w, r, "read status", err)
		return
	}
	step, n := h.popFlash(r.Context())
	if st.Completed {
		h.render(w, r, http.StatusOK, templates.OnboardingSummary(summaryView(st, n)))
		return
	}
	v := h.view(r.Context(), st)
	if n != nil {
		v.Notices[step] = n
		if step == "authorize" && !n.OK {
			v.Consent.Failed = "" // the same failure, just told by the flash
		}
	}
	h.render(w, r, http.StatusOK, templates.OnboardingPage(v))
}

// view builds the page from the service's status; handlers that re-render
// after an error add their messages to it.
func (h *handler) view(ctx context.Context, st onboarding.Status) templates.OnboardingView {
	f := st.Form
	v := templates.OnboardingView{
		CSRF:       h.csrf.Token(ctx),
		Company:    st.Tenant.Name,
		Notices:    map[string]*templates.Notice{},
		FormSaved:  st.FormSaved,
		CanFinish:  st.CanComplete,
		CopyScript: copyScriptURL(),
		Form: templates.FormView{Company: f.Company, MicrosoftTenant: f.MicrosoftTenant, AdminEmail: f.AdminEmail,
			TelephonyAccount: f.TelephonyAccount, UsersSource: f.UsersSource, Users: f.Users, Group: f.Group,
			EventTarget: f.EventTarget, WebhookURL: f.WebhookURL},
		Consent: templates.ConsentView{Granted: st.Onboarding.ConsentStatus == "granted", Failed: st.Onboarding.ConsentError,
			Domain: st.Tenant.MSDomain},
		Monitors: templates.MonitorsView{Users: st.Users, Needed: st.MonitorsNeeded, Authorized: st.Authorized,
			PasswordAllowed: st.Tenant.AllowPasswordSignIn, Domain: st.Tenant.MSDomain},
	}
	if f.UsersSource == "group" && st.Users == 0 {
		v.Monitors.FromGroup = f.Group
	}
	renewing := h.renewing(ctx)
	for _, m := range st.Monitors {
		v.Monitors.Items = append(v.Monitors.Items, monitorView(m, slices.Contains(renewing, m.ID)))
	}
	return v
}

func monitorView(m store.Monitor, renewing bool) templates.MonitorView {
	mv := templates.MonitorView{ID: m.ID.String(), UPN: m.UPN, DisplayName: m.DisplayName, Status: m.Status, LastError: m.LastError}
	mv.SignIn = m.Status == store.MonitorPending || m.Status == store.MonitorNeedsReauth || m.Status == store.MonitorNeedsUpdate ||
		(m.Status == store.MonitorAuthorized && renewing)
	return mv
}

// monitorItem finds monitor id in the view, for a handler's message.
func monitorItem(v *templates.OnboardingView, id uuid.UUID) *templates.MonitorView {
	for i := range v.Monitors.Items {
		if v.Monitors.Items[i].ID == id.String() {
			return &v.Monitors.Items[i]
		}
	}
	return nil
}

func summaryView(st onboarding.Status, n *templates.Notice) templates.SummaryView {
	v := templates.SummaryView{Company: st.Tenant.Name, MicrosoftTenant: st.Tenant.MSDomain, AdminEmail: st.Tenant.AdminEmail,
		TelephonyAccount: st.Tenant.TelephonyAccountID, Users: st.Users, EventTarget: st.Form.EventTarget,
		WebhookURL: st.Form.WebhookURL, Notice: n}
	if st.Form.UsersSource == "group" {
		v.FromGroup = st.Form.Group
	}
	if st.Onboarding.ConsentedAt != nil {
		v.ConsentedAt = st.Onboarding.ConsentedAt.UTC().Format("2 January 2006, 15:04 UTC")
	}
	if st.Onboarding.CompletedAt != nil {
		v.CompletedAt = st.Onboarding.CompletedAt.UTC().Format("2 January 2006, 15:04 UTC")
	}
	for _, m := range st.Monitors {
		v.Monitors = append(v.Monitors, monitorView(m, false))
	}
	return v
}

// --- monitors being renewed ----------------------------------------------------

const sessionRenewing = "renewing"

// renewing lists the authorized monitors the admin chose to sign in again
// (Renew): their rows offer the sign-in actions until it succeeds.
func (h *handler) renewing(ctx context.Context) []uuid.UUID {
	var ids []uuid.UUID
	if b := h.sessions.GetBytes(ctx, sessionRenewing); b != nil {
		json.Unmarshal(b, &ids)
	}
	return ids
}

func (h *handler) setRenewing(ctx context.Context, id uuid.UUID, on bool) {
	ids := slices.DeleteFunc(h.renewing(ctx), func(x uuid.UUID) bool { return x == id })
	if on {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		h.sessions.Remove(ctx, sessionRenewing)
		return
	}
	b, _ := json.Marshal(ids)
	h.sessions.Put(ctx, sessionRenewing, b)
}
