// Package mappingrules changes a tenant's mapping rules (presence.Rules)
// the one way the tenant API and the tenant pages both do it: validated,
// under a lock so that nothing changes between reading the current rules
// and writing the new ones, and audited.
package mappingrules

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// Invalid is a rule set that cannot be saved; its message says why
// (presence.Rules.Validate).
type Invalid struct{ Err error }

func (e *Invalid) Error() string { return e.Err.Error() }

func (e *Invalid) Unwrap() error { return e.Err }

// Change replaces a tenant's rules with change(current) and returns them.
// An error of change (a refused precondition, say) is returned as it is
// and nothing is saved; rules that do not validate are an *Invalid.
func Change(ctx context.Context, st *store.Store, tenant uuid.UUID, actor string, change func(current presence.Rules) (presence.Rules, error)) (presence.Rules, error) {
	var rules presence.Rules
	var refused error
	err := st.InTx(ctx, func(tx store.Tx) error {
		current, err := tx.LockMappingRules(ctx, tenant)
		if err != nil {
			return err
		}
		if rules, refused = change(current); refused != nil {
			return nil
		}
		for k := range rules.Overrides {
			// presence refuses control characters, not bytes that are not
			// UTF-8, which the rules' jsonb would hold as U+FFFD.
			if !store.Storable(k) {
				refused = &Invalid{fmt.Errorf("overrides: key %q: %s", k, store.NotText)}
				return nil
			}
		}
		if err := rules.Validate(); err != nil {
			refused = &Invalid{err}
			return nil
		}
		raw, err := json.Marshal(rules)
		if err != nil {
			return err
		}
		if err := tx.PutMappingRules(ctx, tenant, raw); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenant, actor, "mapping_rules.updated", map[string]any{"rules": rules})
	})
	if err != nil {
		return rules, fmt.Errorf("change mapping rules: %w", err)
	}
	return rules, refused
}
