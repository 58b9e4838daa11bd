//lint:file-ignore ST1005 the form's errors are sentences shown to the admin as they are

package onboarding

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/roster"
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
	Group            string `json:"group"`       // an Entra group's object id
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

// unstorable names each field the database cannot hold (store.Storable):
// the form is stored as jsonb, which refuses a \u0000 in any field, and
// bytes that are not UTF-8 would come back as U+FFFD. Nil when none.
func (f *Form) unstorable() FieldErrors {
	var fe FieldErrors
	for name, v := range map[string]string{"company": f.Company, "microsoftTenant": f.MicrosoftTenant, "adminEmail": f.AdminEmail,
		"telephonyAccount": f.TelephonyAccount, "usersSource": f.UsersSource, "users": f.Users, "group": f.Group,
		"eventTarget": f.EventTarget, "webhookUrl": f.WebhookURL} {
		if !store.Storable(v) {
			if fe == nil {
				fe = FieldErrors{}
			}
			fe[name] = store.NotText
		}
	}
	return fe
}

// validate checks every field and reads the roster chosen: the users
// listed, or the Entra group.
func (f *Form) validate(allowLoopback bool) (roster.Choice, FieldErrors) {
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
	var choice roster.Choice
	switch f.UsersSource {
	case "list":
		var err error
		choice.Entries, err = parseUsers(f.Users)
		if err != nil {
			fe["users"] = err.Error()
		}
	case "group":
		// The group is recorded by its object id: a name would need an
		// app-only token to look up, and there is none before consent.
		id, err := uuid.Parse(f.Group)
		switch {
		case f.Group == "":
			fe["group"] = "Enter the object id of the Microsoft Entra group whose members to monitor."
		case err != nil || !isGUID(f.Group):
			fe["group"] = "Enter the group's object id, such as 0f4a2c1e-8a5b-4c7d-9e3f-1a2b3c4d5e6f (Microsoft Entra admin center → Groups → the group → Object ID)."
		default:
			choice.Group = &id
		}
	default:
		fe["usersSource"] = "Choose a list of users or an Entra group."
	}
	switch f.EventTarget {
	case "webhook":
		if err := deliver.CheckURL(f.WebhookURL, allowLoopback); err != nil {
			fe["webhookUrl"] = err.Error()
		}
	case "stream":
		f.WebhookURL = ""
	default:
		fe["eventTarget"] = "Choose a webhook or the event stream."
	}
	if len(fe) == 0 {
		return choice, nil
	}
	return choice, fe
}

// parseUsers reads the users to monitor with the roster's parser
// (roster.ParseList: one per line, "upn" or "upn,telephony id", a header
// row allowed; commas, semicolons and tabs separate) and words its first
// problem for the form, naming the line.
func parseUsers(text string) ([]roster.Entry, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("Enter at least one user to monitor, one per line.")
	}
	entries, err := roster.ParseList(text)
	var bad *roster.EntriesError
	switch {
	case errors.As(err, &bad) && len(bad.Problems) > 0:
		p := bad.Problems[0]
		msg := fmt.Sprintf("Line %d: %s.", p.Line, p.Message)
		if n := len(bad.Problems) - 1; n > 0 {
			msg += fmt.Sprintf(" %d more line(s) have problems too.", n)
		}
		return nil, errors.New(msg)
	case err != nil:
		return nil, err
	case len(entries) > MaxUsers:
		return nil, fmt.Errorf("At most %d users can be entered here; use an Entra group for more.", MaxUsers)
	}
	return entries, nil
}

// UsersFromCSV turns an uploaded CSV file into the form's users text.
func UsersFromCSV(b []byte) (string, error) {
	if len(b) > 20<<20 {
		return "", errors.New("The file is larger than 20 MB.")
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // Excel's byte-order mark
	if _, err := parseUsers(string(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
