package tenantview

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// AuditLine is one entry of a tenant's audit log, its actor named for
// people.
type AuditLine struct {
	store.AuditEntry
	// Who is the actor as people know it: a portal admin's UPN, an API
	// key's name and prefix; staff and system as recorded.
	Who string
}

// AuditPage is a page of the audit log, newest first; Next is the cursor
// of the page after it, "" on the last.
type AuditPage struct {
	Lines []AuditLine
	Next  string
}

// AuditLog reads a page of the tenant's audit log; cursor is a page's
// Next ("" for the first page). A cursor that does not parse is an
// error wrapping ErrBadCursor.
func (r *Reader) AuditLog(ctx context.Context, tenantID uuid.UUID, q store.AuditQuery, cursor string) (AuditPage, error) {
	if cursor != "" {
		after, err := parseAuditCursor(cursor)
		if err != nil {
			return AuditPage{}, err
		}
		q.After = &after
	}
	entries, more, err := r.st.AuditPage(ctx, tenantID, q)
	if err != nil {
		return AuditPage{}, err
	}
	names, err := r.actorNames(ctx, tenantID)
	if err != nil {
		return AuditPage{}, err
	}
	var p AuditPage
	for _, e := range entries {
		p.Lines = append(p.Lines, AuditLine{AuditEntry: e, Who: names.of(e.Actor)})
	}
	if more {
		last := entries[len(entries)-1]
		p.Next = strconv.FormatInt(last.At.UnixMicro(), 10) + "." + strconv.FormatInt(last.ID, 10)
	}
	return p, nil
}

// ErrBadCursor: the cursor is not one AuditLog made.
var ErrBadCursor = fmt.Errorf("tenantview: bad audit log cursor")

func parseAuditCursor(c string) (store.AuditEntry, error) {
	at, id, ok := strings.Cut(c, ".")
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return store.AuditEntry{}, ErrBadCursor
	}
	return store.AuditEntry{At: time.UnixMicro(us), ID: n}, nil
}

// actorNames names the tenant's portal admins and API keys, read once a
// page.
type actorNames struct {
	admins map[string]string // object id → UPN
	keys   map[string]store.APIKey
}

func (r *Reader) actorNames(ctx context.Context, tenantID uuid.UUID) (actorNames, error) {
	n := actorNames{admins: map[string]string{}, keys: map[string]store.APIKey{}}
	admins, err := r.st.PortalAdmins(ctx, tenantID)
	if err != nil {
		return n, err
	}
	for _, a := range admins {
		n.admins[a.ObjectID.String()] = a.UPN
	}
	keys, err := r.st.APIKeys(ctx, tenantID)
	if err != nil {
		return n, err
	}
	for _, k := range keys {
		n.keys[k.ID.String()] = k
	}
	return n, nil
}

func (n actorNames) of(actor string) string {
	kind, id, _ := strings.Cut(actor, ":")
	switch kind {
	case "portal":
		if upn, ok := n.admins[id]; ok {
			return upn
		}
		return "a former portal admin (" + id + ")"
	case "apikey":
		if k, ok := n.keys[id]; ok {
			return fmt.Sprintf("API key %q (pbk_%s_…)", k.Name, k.Prefix)
		}
		return "an API key (" + id + ")"
	case "admin":
		return id + " (during onboarding)"
	case "monitor-link", "monitor":
		return id + " (a monitor's sign-in)"
	}
	return actor
}
