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
	Monitors map[string]int // by status (store.Monitor*), only those it has; every monitor counted once
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
// there is no such tenant. Every part is a count or a short list read in
// SQL (the tenant's row once, the roster counted along an index, open
// alerts only), so a tenant of 100,000 users and years of history reads
// as quickly as a small one, bar one index-only pass over its roster.
func (r *Reader) Health(ctx context.Context, tenantID uuid.UUID) (Health, error) {
	var h Health
	var err error
	if h.Tenant, h.Status, err = r.st.TenantWithHealth(ctx, tenantID); err != nil {
		return h, err
	}
	if h.Consent, err = r.Consent(ctx, h.Tenant); err != nil {
		return h, err
	}
	if h.Monitors, err = r.st.MonitorCounts(ctx, tenantID); err != nil {
		return h, err
	}
	if h.Roster, err = r.roster.Summary(ctx, tenantID); err != nil {
		return h, err
	}
	h.Status.Users = h.Roster.Users
	h.Alerts, err = r.st.OpenAlerts(ctx, tenantID)
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
