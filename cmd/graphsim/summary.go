package main

import (
	"fmt"
	"io"

	"presencebridge/internal/graphsim"
)

// usersShown is how many people per tenant the summary lists; --print-seed
// lists all of them.
const usersShown = 3

// state is where --state keeps graphsim's state, and whether it was
// restored from there.
type state struct {
	file     string
	restored bool
}

// printSummary tells a person what graphsim holds and where to find it.
// A restored state may differ from the seed (consents given or withdrawn,
// tenants and accounts added through the control API): the summary says so
// rather than show the seed's consents as current.
func printSummary(w io.Writer, base string, seed graphsim.Seed, st state) {
	fmt.Fprintln(w, "graphsim: Microsoft Graph and the identity platform, emulated")
	switch {
	case st.restored:
		fmt.Fprintf(w, "  state        restored from %s, and kept there: consents and accounts are as they were left\n", st.file)
	case st.file != "":
		fmt.Fprintf(w, "  state        kept in %s (saved within a second of a change, and at stop)\n", st.file)
	}
	fmt.Fprintf(w, "  app          client id %s  secret %s\n", seed.App.ClientID, seed.App.ClientSecret)
	for _, u := range seed.App.RedirectURIs {
		fmt.Fprintf(w, "               redirect URI %s\n", u)
	}
	for _, t := range seed.Tenants {
		consent := "not consented"
		if t.Consented {
			consent = "consented"
		}
		if st.restored {
			consent = "consent as restored"
		}
		fmt.Fprintf(w, "  tenant       %s  id %s  %s\n", t.Domain, t.ID, consent)
		if t.Admin.UPN != "" {
			fmt.Fprintf(w, "    admin      %s  %s\n", t.Admin.UPN, t.Admin.Password)
		}
		for _, m := range t.Monitors {
			fmt.Fprintf(w, "    monitor    %s  %s\n", m.UPN, m.Password)
		}
		for i, u := range t.Users {
			if i == usersShown {
				fmt.Fprintf(w, "    …          %d more users (--print-seed lists every account)\n", len(t.Users)-usersShown)
				break
			}
			fmt.Fprintf(w, "    user       %s  %s\n", u.UPN, u.Password)
		}
	}
	fmt.Fprintf(w, "  sign-in      %s/{tenant}/oauth2/v2.0/authorize (discovery: %s/{tenant}/v2.0/.well-known/openid-configuration)\n", base, base)
	fmt.Fprintf(w, "  Graph        %s/v1.0\n", base)
	fmt.Fprintf(w, "  control API  %s/_sim/ (POST /_sim/seed, POST /_sim/tenants, GET /_sim/tenants/{id}, …)\n", base)
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
