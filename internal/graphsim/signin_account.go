package graphsim

import (
	"strings"

	"github.com/google/uuid"
)

// signInAccountLocked resolves what a person typed on the sign-in page the
// way Microsoft Entra ID does for B2B guests (docs/identity.md#guests):
//
//   - A guest's UPN (alice_fabrikam.com#EXT#@contoso.com) is not a name
//     anyone signs in with; people sign in with their own address.
//   - At a multi-tenant authority (organizations, common) an address signs in
//     to its home organization: a guest of Contoso signing in there gets a
//     token of Fabrikam, never of Contoso.
//   - Only a tenant-specific authority (/{tenant}/) turns the address into
//     the person's guest account in that tenant; the credentials checked are
//     the home account's. A guest whose home organization graphsim does not
//     hold signs in with the guest account's own password, standing in for
//     an identity provider outside graphsim.
//
// account is who the tokens are about, credentials whose password is checked;
// aadErr is the page's error when the name signs in nowhere here.
func (s *Sim) signInAccountLocked(login string, at *Tenant) (account, credentials *User, aadErr string) {
	const notFound = "AADSTS50034: We couldn't find an account with that username in this organization."
	home := s.userByUPNLocked(login)
	if home != nil && home.Guest {
		home = nil
	}
	switch {
	case at == nil && home != nil, at != nil && home != nil && home.TenantID == at.ID:
		return home, home, ""
	case at == nil:
		return nil, nil, notFound
	}
	if g := guestByMailLocked(at, login); g != nil {
		if home != nil {
			return g, home, ""
		}
		return g, g, ""
	}
	if home != nil {
		return nil, nil, "AADSTS50020: User account '" + login + "' from identity provider '" + homeIssuer(home.TenantID) +
			"' does not exist in tenant '" + at.DisplayName + "' and cannot access the application. The account needs to be added as an external user in the tenant first."
	}
	return nil, nil, notFound
}

// guestByMailLocked is t's guest account whose home address is mail.
func guestByMailLocked(t *Tenant, mail string) *User {
	for _, u := range t.users {
		if u.Guest && strings.EqualFold(u.Mail, mail) {
			return u
		}
	}
	return nil
}

// guestHomeLocked is the tenant id of a guest's home organization: the
// tenant graphsim holds for its address's domain, or a stable stand-in id
// derived from the domain when graphsim holds none.
func (s *Sim) guestHomeLocked(u *User) uuid.UUID {
	_, domain, _ := strings.Cut(strings.ToLower(u.Mail), "@")
	if t := s.byDomain[domain]; t != nil {
		return t.ID
	}
	return uuid.NewSHA1(uuid.NameSpaceDNS, []byte(domain))
}

// homeIssuer is the v1 issuer of a tenant, the form Entra uses in the idp
// claim and in AADSTS50020's message.
func homeIssuer(tenantID uuid.UUID) string {
	return "https://sts.windows.net/" + tenantID.String() + "/"
}
