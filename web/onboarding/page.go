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
	ctx := r.Context()
	step, n := h.popFlash(ctx)
	if st.Completed {
		v, err := h.summary(ctx, st)
		if err != nil {
			h.fail(w, r, "build summary", err)
			return
		}
		if step == "integration" {
			v.Integrations.Notice = n
		} else {
			v.Notice = n
		}
		s := h.popShown(ctx)
		for i := range v.Integrations.Webhooks {
			if s.Secret != "" && v.Integrations.Webhooks[i].URL == s.Webhook {
				v.Integrations.Webhooks[i].Secret = s.Secret
			}
		}
		v.Integrations.APIKey = s.APIKey
		h.render(w, r, http.StatusOK, templates.OnboardingSummary(v))
		return
	}
	v, err := h.view(ctx, st)
	if err != nil {
		h.fail(w, r, "build page", err)
		return
	}
	if s := h.popShown(ctx); s.Link != "" {
		for i := range v.Monitors.Items {
			if v.Monitors.Items[i].ID == s.Monitor {
				v.Monitors.Items[i].Link = &templates.CopyLink{URL: s.Link, Expires: s.Expires}
			}
		}
	}
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
func (h *handler) view(ctx context.Context, st onboarding.Status) (templates.OnboardingView, error) {
	f := st.Form
	v := templates.OnboardingView{
		CSRF:       h.csrf.Token(ctx),
		Company:    st.Tenant.Name,
		Notices:    map[string]*templates.Notice{},
		FormSaved:  st.FormSaved,
		CanFinish:  st.CanComplete,
		CopyScript: templates.Asset("js/copy.js"),
		SignedInAs: h.sessions.GetString(ctx, sessionSigner),
		Form: templates.FormView{Company: f.Company, MicrosoftTenant: f.MicrosoftTenant, AdminEmail: f.AdminEmail,
			TelephonyAccount: f.TelephonyAccount, UsersSource: f.UsersSource, Users: f.Users, Group: f.Group,
			EventTarget: f.EventTarget, WebhookURL: f.WebhookURL},
		Consent: templates.ConsentView{Granted: st.Onboarding.ConsentStatus == "granted", Failed: st.Onboarding.ConsentError,
			Domain: st.Tenant.MSDomain, OwnApp: templates.OwnAppView{RedirectURI: h.svc.MonitorRedirectURI()}},
		Monitors: templates.MonitorsView{Users: st.Users, Needed: st.MonitorsNeeded, Authorized: st.Authorized,
			PasswordAllowed: st.Tenant.AllowPasswordSignIn, Domain: st.Tenant.MSDomain},
	}
	var err error
	if v.Consent.OwnApp.InUse, err = h.ownAppInUse(ctx, st.Tenant.ID); err != nil {
		return v, err
	}
	if f.UsersSource == "group" && st.Users == 0 {
		v.Monitors.FromGroup = f.Group
	}
	renewing := h.renewing(ctx)
	for _, m := range st.Monitors {
		v.Monitors.Items = append(v.Monitors.Items, monitorView(m, slices.Contains(renewing, m.ID)))
	}
	return v, nil
}

func monitorView(m store.Monitor, renewing bool) templates.MonitorView {
	mv := templates.MonitorView{ID: m.ID.String(), UPN: m.UPN, DisplayName: m.DisplayName, Status: m.Status, LastError: m.LastError,
		Tried: m.Status != store.MonitorPending || m.LastError != ""}
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
