package tenancy

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// AllowPasswordSignIn lets the tenant's monitors be signed in with their
// password, used once (onboarding's third way, for a monitor whose person
// cannot open a Copy URL), or stops it; audited as actor.
func (s *Service) AllowPasswordSignIn(ctx context.Context, tenantID uuid.UUID, allow bool, actor string) error {
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.GetTenant(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.SetAllowPasswordSignIn(ctx, tenantID, allow); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "tenant.password_signin", map[string]any{"allowed": allow})
	})
	if err != nil {
		return fmt.Errorf("allow password sign-in %v for %s: %w", allow, tenantID, err)
	}
	return nil
}
