package onboarding

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
)

// A consent started from an alert's link (onboarding.Service.ReconsentURL)
// comes back to a browser without an onboarding session, at the callback
// the app registers: the consent callback for ours, the monitors' for a
// tenant's own app. The page says what happens next, or why nothing did,
// and the database is left alone: the engine confirms a grant itself.
// (Without reconsentReturned both callbacks refused it as a forged
// sign-in response, 400.)
func TestAConsentFromAnAlertsLinkLandsOnAPageSayingWhatHappensNext(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	c.invited()
	c.formSaved()
	own := f.ownApp()
	ten := f.ten()
	for _, tc := range []struct {
		name, clientID, callback string
	}{
		{"our app", f.seed.App.ClientID, "/onboarding/consent/callback"},
		{"own app", own.ClientID, "/onboarding/monitors/callback"},
	} {
		link := f.svc.ReconsentURL(identity.App{ClientID: tc.clientID}, ten.ID.String())
		if u, err := url.Parse(link); err != nil || u.Query().Get("redirect_uri") != f.base+tc.callback {
			t.Fatalf("%s: link %s does not return to %s", tc.name, link, tc.callback)
		}
		before := f.snapshot()

		granted, err := graphsim.NewPerson().SignIn(t.Context(), link, ten.Admin.UPN, ten.Admin.Password)
		if err != nil {
			t.Fatalf("%s: consent at %s: %v", tc.name, link, err)
		}
		p := f.newClient().get(tc.callback + "?" + granted.Encode())
		wantText(t, p, http.StatusOK, "Microsoft recorded your consent.", "the alert then clears by itself")
		if !strings.Contains(p.body, `role="status"`) {
			t.Errorf("%s: the confirmation is not a status notice", tc.name)
		}

		declined, err := graphsim.NewPerson().Decline(t.Context(), link)
		if err != nil {
			t.Fatalf("%s: decline at %s: %v", tc.name, link, err)
		}
		wantText(t, f.newClient().get(tc.callback+"?"+declined.Encode()), http.StatusOK, "Consent was declined.", "the alert stays open")
		f.requireUnchanged(before)
		if t.Failed() {
			t.Fatalf("%s", tc.name)
		}
	}
}
