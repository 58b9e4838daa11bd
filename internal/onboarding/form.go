package onboarding

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// Form is the onboarding form as the admin entered it. It is stored as
// entered, so nothing typed is lost when a field has an error.
type Form struct {
	Company          string `json:"company"`
	MicrosoftTenant  string `json:"microsoftTenant"` // a verified domain or the tenant id
	AdminEmail       string `json:"adminEmail"`
	TelephonyAccount string `json:"telephonyAccount"`
	UsersSource      string `json:"usersSource"` // "list" or "group"
	Users            string `json:"users"`       // one per line: upn[,telephony id]
	Group            string `json:"group"`       // an Entra group's name or id
	EventTarget      string `json:"eventTarget"` // "webhook" or "stream"
	WebhookURL       string `json:"webhookUrl"`
}

// FieldErrors maps a form field (its JSON name) to a message for it.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	var b strings.Builder
	for k, v := range fe {
		fmt.Fprintf(&b, "%s: %s; ", k, v)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// MaxUsers bounds one roster entered on the form.
const MaxUsers = 200_000

var domainRE = regexp.MustCompile(`^(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$`)

// normalize trims every field.
func (f *Form) normalize() {
	for _, p := range []*string{&f.Company, &f.MicrosoftTenant, &f.AdminEmail, &f.TelephonyAccount, &f.UsersSource,
		&f.Group, &f.EventTarget, &f.WebhookURL} {
		*p = strings.TrimSpace(*p)
	}
	f.MicrosoftTenant = strings.ToLower(f.MicrosoftTenant)
	if f.UsersSource == "" {
		f.UsersSource = "list"
	}
	if f.EventTarget == "" {
		f.EventTarget = "webhook"
	}
}

// validate checks every field and parses the user list.
func (f *Form) validate(allowLoopback bool) ([]store.RosterEntry, FieldErrors) {
	f.normalize()
	fe := FieldErrors{}
	if f.Company == "" {
		fe["company"] = "Enter your company's name."
	} else if len(f.Company) > 200 {
		fe["company"] = "Use at most 200 characters."
	}
	switch {
	case f.MicrosoftTenant == "":
		fe["microsoftTenant"] = "Enter your Microsoft 365 domain (contoso.com) or tenant id."
	case isGUID(f.MicrosoftTenant):
	case strings.HasSuffix(f.MicrosoftTenant, ".onmicrosoft.com") || domainRE.MatchString(f.MicrosoftTenant):
	default:
		fe["microsoftTenant"] = "This is neither a domain such as contoso.com nor a tenant id such as 72f988bf-86f1-41af-91ab-2d7cd011db47."
	}
	if a, err := mail.ParseAddress(f.AdminEmail); err != nil || a.Address != f.AdminEmail {
		fe["adminEmail"] = "Enter an e-mail address such as it-admin@contoso.com."
	}
	if f.TelephonyAccount == "" {
		fe["telephonyAccount"] = "Enter your account id on the telephony platform."
	} else if len(f.TelephonyAccount) > 200 {
		fe["telephonyAccount"] = "Use at most 200 characters."
	}
	var roster []store.RosterEntry
	switch f.UsersSource {
	case "list":
		var err error
		roster, err = ParseUsers(f.Users)
		if err != nil {
			fe["users"] = err.Error()
		}
	case "group":
		if f.Group == "" {
			fe["group"] = "Enter the name or id of the Microsoft Entra group whose members to monitor."
		}
	default:
		fe["usersSource"] = "Choose a list of users or an Entra group."
	}
	switch f.EventTarget {
	case "webhook":
		if err := checkWebhookURL(f.WebhookURL, allowLoopback); err != nil {
			fe["webhookUrl"] = err.Error()
		}
	case "stream":
		f.WebhookURL = ""
	default:
		fe["eventTarget"] = "Choose a webhook or the event stream."
	}
	if len(fe) == 0 {
		return roster, nil
	}
	return roster, fe
}

// ParseUsers reads the users to monitor: one per line, "upn" or
// "upn,telephony id" (a CSV export with a header row works too; commas,
// semicolons and tabs separate). Errors name the line.
func ParseUsers(text string) ([]store.RosterEntry, error) {
	r := csv.NewReader(strings.NewReader(strings.NewReplacer(";", ",", "\t", ",").Replace(text)))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	seen := map[string]int{}
	var out []store.RosterEntry
	line := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("Line %d cannot be read: %v.", line, err)
		}
		upn := strings.TrimSpace(rec[0])
		if upn == "" {
			continue
		}
		if line == 1 && !strings.Contains(upn, "@") && len(out) == 0 { // a header row
			continue
		}
		if a, err := mail.ParseAddress(upn); err != nil || a.Address != upn {
			return nil, fmt.Errorf("Line %d: %q is not a user name such as adele.vance@contoso.com.", line, upn)
		}
		key := strings.ToLower(upn)
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("Line %d repeats %s (first on line %d).", line, upn, first)
		}
		seen[key] = line
		e := store.RosterEntry{UPN: upn}
		if len(rec) > 1 {
			e.ExternalID = strings.TrimSpace(rec[1])
		}
		out = append(out, e)
		if len(out) > MaxUsers {
			return nil, fmt.Errorf("At most %d users can be entered here; use an Entra group for more.", MaxUsers)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("Enter at least one user to monitor, one per line.")
	}
	return out, nil
}

// UsersFromCSV turns an uploaded CSV file into the form's users text.
func UsersFromCSV(b []byte) (string, error) {
	if len(b) > 20<<20 {
		return "", errors.New("The file is larger than 20 MB.")
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // Excel's byte-order mark
	if _, err := ParseUsers(string(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

func checkWebhookURL(raw string, allowLoopback bool) error {
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

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
