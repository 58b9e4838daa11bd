package writeback

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
)

// client is the tenant's app-only client, once its token is known to
// carry Permission. A token cached before an administrator granted it
// still lacks it (tokens are not reissued on consent), so a refusal first
// asks for a fresh token, at most once per recheckEvery and tenant.
func (w *Writer) client(ctx context.Context, tenantID uuid.UUID) (engine.AppWriter, error) {
	aw, err := w.opts.Clients.Writer(ctx, tenantID)
	if err != nil {
		return aw, fmt.Errorf("writeback: graph client of tenant %s: %w", tenantID, err)
	}
	if canWrite(aw.Roles) {
		return aw, nil
	}
	if w.dueRecheck(tenantID) {
		if _, err := w.opts.Clients.CheckAccess(ctx, tenantID); err != nil {
			return aw, fmt.Errorf("writeback: access of tenant %s: %w", tenantID, err)
		}
		if aw, err = w.opts.Clients.Writer(ctx, tenantID); err != nil {
			return aw, fmt.Errorf("writeback: graph client of tenant %s: %w", tenantID, err)
		}
		if canWrite(aw.Roles) {
			return aw, nil
		}
	}
	return aw, &PermissionError{TenantID: tenantID, Missing: Permission, Granted: slices.Clone(aw.Roles), Access: aw.Access}
}

func canWrite(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return strings.EqualFold(r, Permission) })
}

// dueRecheck reports whether the tenant's token may be asked for afresh,
// and if so notes that it is.
func (w *Writer) dueRecheck(tenantID uuid.UUID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.opts.Now()
	if last, ok := w.checked[tenantID]; ok && now.Sub(last) < recheckEvery {
		return false
	}
	w.checked[tenantID] = now
	return true
}
