package store_test

import (
	"slices"
	"testing"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// The console's list pages by name with a keyset: the pages together are
// every matching tenant once, in name order, however they are cut; the
// search matches name, Microsoft domain and admin e-mail in any case, its
// LIKE wildcards taken literally.
func TestTenantListPagesEveryMatchingTenantOnceInNameOrder(t *testing.T) {
	st, _ := storetest.New(t) // "Contoso"
	pool := st.Pool()
	for _, name := range []string{"fabrikam", "Adatum", "Contoso", "Northwind 100%", "northwind"} {
		storetest.Tenant(t, pool, name)
	}
	testkit.Exec(t, pool, `UPDATE tenants SET ms_domain = 'tailspin.example' WHERE name = 'Adatum'`)
	testkit.Exec(t, pool, `UPDATE tenants SET admin_email = 'it@woodgrove.example' WHERE name = 'fabrikam'`)

	list := func(search string, limit int) []string {
		t.Helper()
		var names []string
		q := store.TenantListQuery{Search: search, Limit: limit}
		for pages := 0; ; pages++ {
			page, more, err := st.TenantList(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit || pages > 10 {
				t.Fatalf("page of %d, limit %d, page %d", len(page), limit, pages)
			}
			for _, p := range page {
				names = append(names, p.Name)
			}
			if !more {
				return names
			}
			last := page[len(page)-1]
			q.AfterName, q.AfterID = last.Name, last.ID
		}
	}
	all := list("", 100)
	if len(all) != 6 || all[0] != "Adatum" || all[5] != "Northwind 100%" {
		t.Fatalf("all tenants: %q", all)
	}
	for _, limit := range []int{1, 2, 4} {
		if got := list("", limit); !slices.Equal(got, all) {
			t.Errorf("pages of %d: %q, want %q", limit, got, all)
		}
	}
	for search, want := range map[string][]string{
		"CONTOSO":   {"Contoso", "Contoso"},
		"tailspin":  {"Adatum"},
		"woodgrove": {"fabrikam"},
		"100%":      {"Northwind 100%"},
		"%":         {"Northwind 100%"},
		"north":     {"northwind", "Northwind 100%"},
		"_":         nil,
	} {
		if got := list(search, 1); !slices.Equal(got, want) {
			t.Errorf("search %q: %q, want %q", search, got, want)
		}
	}
}
