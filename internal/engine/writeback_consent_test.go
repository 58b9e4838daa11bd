package engine

import (
	"strings"
	"testing"
)

// The write-back consent alert tells whoever must act what to do where:
// for our app, consent again at the URL; for a tenant's own app, add the
// permission to that registration first. Either way it says reading goes on.
func TestWriteBackMessageNamesTheFixForOurAppAndForAnOwnApp(t *testing.T) {
	const url = "https://login.example/contoso/adminconsent?client_id=c1"
	for _, tc := range []struct {
		name string
		acc  Access
		want []string
	}{
		{"our app", Access{ClientID: "c1", ConsentURL: url},
			[]string{"Presence Bridge's app", "a Global Administrator grants consent again at " + url}},
		{"own app", Access{ClientID: "c1", OwnApp: true, ConsentURL: url},
			[]string{"your own app registration for Presence Bridge (client id c1)", "adds Microsoft Graph's application permission Presence.ReadWrite.All",
				"grants admin consent at " + url}},
	} {
		msg := writeBackMessage(tc.acc)
		for _, want := range append(tc.want, "Re-consent needed for presence write-back: grant Presence.ReadWrite.All", "reads presence as before") {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", tc.name, msg, want)
			}
		}
	}
}
