package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
)

// A failed operation says which one failed, and callers still find what
// went wrong underneath with errors.Is.
func TestStoreErrorsNameTheOperationAndKeepTheirCause(t *testing.T) {
	st, _ := storetest.New(t)
	_, err := st.GetTenant(context.Background(), uuid.New())
	if !errors.Is(err, store.ErrTenantNotFound) {
		t.Fatalf("GetTenant of an unknown id: %v, want ErrTenantNotFound underneath", err)
	}
	if !strings.HasPrefix(err.Error(), "get tenant: ") {
		t.Errorf("error %q does not name the operation", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = st.SetAllowPasswordSignIn(ctx, uuid.New(), true)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "set allow password sign in: ") {
		t.Errorf("SetAllowPasswordSignIn on a cancelled context: %v", err)
	}
}
