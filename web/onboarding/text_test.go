package onboarding

import (
	"net/http"
	"strings"
	"testing"
)

// Text the database cannot store — a NUL, bytes that are not UTF-8 — in
// any field of the onboarding form shows the form again with the message
// beside that field (422) and stores nothing, not even the draft: the form
// is kept as jsonb, which refuses a \u0000 whatever the field. Before, the
// database refused it and the page was a 500.
func TestAnOnboardingFormFieldHoldingANulOrBytesNotUTF8IsRefusedBesideItAndNothingIsStored(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	for _, field := range []string{"company", "microsoftTenant", "adminEmail", "telephonyAccount", "usersSource", "users", "group",
		"eventTarget", "webhookUrl"} {
		for _, bad := range []string{"\x00", "\xff"} {
			form := f.formValues()
			if field == "group" {
				form.Set("usersSource", "group")
			}
			form.Set(field, form.Get(field)+bad)
			before := f.snapshot()
			p := c.post("/onboarding/form", form)
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(text(p.body), "not text") {
				t.Errorf("%s with %q: %d\n%s", field, bad, p.status, text(p.body))
			}
			f.requireUnchanged(before)
		}
	}
}
