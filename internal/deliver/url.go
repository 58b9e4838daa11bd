//lint:file-ignore ST1005 the errors are sentences shown to people (the onboarding form, the API's 422) as they are

package deliver

import (
	"errors"
	"net"
	"net/url"
)

// CheckURL says, in a sentence for the person who typed it, why raw cannot
// be a webhook endpoint: not https, or an address the internet cannot
// reach. Loopback targets (http or https) pass only when allowLoopback
// (tests and development). Every connection is checked again after DNS
// (checkAddress), since a public name can resolve to a private address.
func CheckURL(raw string, allowLoopback bool) error {
	if raw == "" {
		return errors.New("Enter the https URL that should receive presence events.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("Enter a URL such as https://events.example.com/presence.")
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	switch {
	case loopback && allowLoopback:
		if u.Scheme != "http" && u.Scheme != "https" {
			return errors.New("Use an http or https URL.")
		}
	case u.Scheme != "https":
		return errors.New("Use an https URL: events carry presence data.")
	case loopback || (ip != nil && (ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())):
		return errors.New("This address is not reachable from the internet; use a public https URL.")
	}
	return nil
}
