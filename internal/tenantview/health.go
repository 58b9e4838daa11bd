// Package tenantview reads what the tenant pages show about one tenant —
// its health at a glance, for now — the same way for every surface that
// shows it: the tenant admins' portal, the vendor's console and the
// tenant API (ARCHITECTURE.md: a rule lives once, in internal/…).
package tenantview

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// Consent is the tenant's admin consent as onboarding recorded it.
type Consent struct {
	Status            string // pending, granted, failed
	Error             string
	GrantedAt         *time.Time
	MicrosoftTenantID *uuid.UUID
}

// Health is a tenant's health at a glance.
type Health struct {
	Tenant   store.Tenant
	Status   store.TenantStatus
	Consent  Consent
	Monitors map[string]int // by status (store.Monitor*), every monitor counted once
	Roster   roster.Summary
	Alerts   []store.Alert // open ones, newest first
}

// MonitorCount is the number of monitors in all.
func (h Health) MonitorCount() int {
	n := 0
	for _, c := range h.Monitors {
		n += c
	}
	return n
}

// Reader reads tenant views.
type Reader struct {
	st     *store.Store
	roster *roster.Roster
}

// New returns a Reader.
func New(st *store.Store) *Reader { return &Reader{st: st, roster: roster.New(st)} }

// Health reads tenant tenantID's health; store.ErrTenantNotFound when
// there is no such tenant.
func (r *Reader) Health(ctx context.Context, tenantID uuid.UUID) (Health, error) {
	var h Health
	var err error
	if h.Tenant, err = r.st.GetTenant(ctx, tenantID); err != nil {
		return h, err
	}
	if h.Status, err = r.st.TenantStatusOf(ctx, tenantID); err != nil {
		return h, err
	}
	if h.Consent, err = r.Consent(ctx, h.Tenant); err != nil {
		return h, err
	}
	ms, err := r.st.Monitors(ctx, tenantID)
	if err != nil {
		return h, err
	}
	h.Monitors = map[string]int{}
	for _, m := range ms {
		h.Monitors[m.Status]++
	}
	if h.Roster, err = r.roster.Summary(ctx, tenantID); err != nil {
		return h, err
	}
	h.Alerts, err = r.OpenAlerts(ctx, tenantID)
	return h, err
}

// Consent is the admin consent as onboarding recorded it. A tenant made
// without an invitation (an operator's, a demo) has no onboarding row: its
// consent shows in the Microsoft tenant it is connected to.
func (r *Reader) Consent(ctx context.Context, t store.Tenant) (Consent, error) {
	o, err := r.st.GetOnboarding(ctx, t.ID)
	switch {
	case errors.Is(err, store.ErrTenantNotFound):
		o.ConsentStatus = "pending"
		if t.MSTenantID != nil {
			o.ConsentStatus = "granted"
		}
	case err != nil:
		return Consent{}, err
	}
	return Consent{Status: o.ConsentStatus, Error: o.ConsentError, GrantedAt: o.ConsentedAt, MicrosoftTenantID: t.MSTenantID}, nil
}

// OpenAlerts are the tenant's open alerts, newest first.
func (r *Reader) OpenAlerts(ctx context.Context, tenantID uuid.UUID) ([]store.Alert, error) {
	as, err := r.st.Alerts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := []store.Alert{}
	for _, a := range as {
		if a.ResolvedAt != nil {
			break // open ones come first
		}
		out = append(out, a)
	}
	return out, nil
}
