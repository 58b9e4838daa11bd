// Package simadmin is a graphsim tenant's administrator taking the tenant
// through Presence Bridge's onboarding: the form, admin consent and each
// monitor's sign-in at graphsim's pages, and done — with the onboarding
// service the pages call, never rows written directly. make dev's demo
// tenant, the fault suite and tests onboard this one way.
package simadmin

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
)

// Onboard takes tenant, its invitation opened, through onboarding as
// Microsoft tenant ten's administrator would, with the onboarding service
// the pages call: the form f, admin consent signed in at graphsim, each of
// ten's monitors signed in, complete. Steps done are skipped, so an
// onboarding interrupted part-way resumes; again redoes consent and
// sign-ins all the same (graphsim started afresh and knows neither).
func Onboard(ctx context.Context, svc *onboarding.Service, tenant uuid.UUID, ten graphsim.SeedTenant, f onboarding.Form, again bool) error {
	st, err := svc.Status(ctx, tenant)
	if err != nil {
		return err
	}
	actor := "admin:" + f.AdminEmail
	if !st.FormSaved {
		fe, err := svc.SaveForm(ctx, tenant, f, actor)
		if err != nil {
			return fmt.Errorf("form: %w", err)
		}
		if fe != nil {
			return fmt.Errorf("form: %w", fe)
		}
	}
	if again || st.Onboarding.ConsentStatus != "granted" {
		consent, err := svc.ConsentURL(ctx, tenant, "dev")
		if err != nil {
			return err
		}
		q, err := graphsim.NewPerson().SignIn(ctx, consent, ten.Admin.UPN, ten.Admin.Password)
		if err != nil {
			return fmt.Errorf("admin consent: %w", err)
		}
		if err := svc.FinishConsent(ctx, tenant, q, actor); err != nil {
			return fmt.Errorf("admin consent: %w", err)
		}
	}
	for _, acct := range ten.Monitors {
		if err := signInMonitor(ctx, svc, tenant, st.Monitors, acct, actor, again); err != nil {
			return fmt.Errorf("monitor %s: %w", acct.UPN, err)
		}
	}
	if st.Completed {
		return nil
	}
	return svc.Complete(ctx, tenant, actor)
}

// signInMonitor adds acct as a monitor unless it is one of have, and signs
// it in unless it is authorized already (or again is set).
func signInMonitor(ctx context.Context, svc *onboarding.Service, tenant uuid.UUID, have []store.Monitor, acct graphsim.SeedUser, actor string, again bool) error {
	var m store.Monitor
	for _, x := range have {
		if strings.EqualFold(x.UPN, acct.UPN) {
			m = x
		}
	}
	if m.ID == uuid.Nil {
		var err error
		if m, err = svc.AddMonitor(ctx, tenant, acct.UPN, actor); err != nil {
			return err
		}
	}
	if m.Status == store.MonitorAuthorized && !again {
		return nil
	}
	si, err := svc.StartMonitorSignIn(ctx, tenant, m.ID, "dev")
	if err != nil {
		return err
	}
	q, err := graphsim.NewPerson().SignIn(ctx, si.URL, acct.UPN, acct.Password)
	if err != nil {
		return err
	}
	return svc.FinishMonitorSignIn(ctx, tenant, m.ID, q, si, actor)
}
