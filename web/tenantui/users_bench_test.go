package tenantui_test

import (
	"fmt"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/web/portal/portaltest"
)

// BenchmarkUsersPageOf100000Users reads the Users page of a tenant with
// 100,000 users (the bound: ≤ 300 ms server time), the first page
// and a filtered one, through the signed-in portal.
func BenchmarkUsersPageOf100000Users(b *testing.B) {
	p := portaltest.New(b)
	entries := make([]store.DirectoryEntry, 100_000)
	for i := range entries {
		entries[i] = store.DirectoryEntry{UPN: fmt.Sprintf("user%06d@contoso.example", i)}
	}
	if _, err := p.Store.UpsertDirectoryUsers(b.Context(), p.Tenant.ID, store.SourceList, entries); err != nil {
		b.Fatal(err)
	}
	br := p.Browser()
	br.SignIn()
	for _, path := range []string{"/portal/users/", "/portal/users/?status=unresolved", "/portal/users/?q=user05"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if pg := br.Get(path); pg.Status != 200 {
					b.Fatalf("%s: %d", path, pg.Status)
				}
			}
		})
	}
}
