package alertmail

import (
	"fmt"
	"strings"
	"time"

	"presencebridge/internal/mail"
	"presencebridge/internal/store"
)

// compose writes the mail about m, in plain English: what is wrong (the
// alert's own message, which the portal and the API show too), how to fix
// it and where, and what comes next.
func compose(m store.AlertMail, baseURL string, now time.Time) mail.Message {
	portal := strings.TrimSuffix(baseURL, "/") + "/portal"
	title := titleOf(m)
	var b strings.Builder
	b.WriteString("Hello,\n\n")
	var subject string
	switch m.Reason {
	case store.MailResolved:
		subject = "Resolved: " + title
		fmt.Fprintf(&b, "Good news for %s: this is fixed.\n\n%s.\n\n", m.TenantName, title)
		fmt.Fprintf(&b, "It was raised on %s and resolved on %s. Nothing more is needed.\n", stamp(m.RaisedAt), stamp(*m.ResolvedAt))
	default:
		subject = title
		if m.Reason == store.MailReminder {
			subject = "Reminder: " + title
			fmt.Fprintf(&b, "A reminder: this still needs your attention for %s. It was raised on %s.\n\n", m.TenantName, stamp(m.RaisedAt))
		} else {
			fmt.Fprintf(&b, "Presence Bridge needs your attention for %s.\n\n", m.TenantName)
		}
		b.WriteString(m.Message + "\n\n")
		fmt.Fprintf(&b, "How to fix it: %s\n\n", fixOf(m, portal))
		if m.Kind == store.AlertSecretExpiring {
			b.WriteString("We will write again a week and a day before the secret expires, and once it is replaced.\n")
		} else {
			b.WriteString("We will remind you every 24 hours until it is fixed, and write once more when it is.\n")
		}
	}
	fmt.Fprintf(&b, "\nYour Presence Bridge portal: %s\n\n-- \nPresence Bridge. You receive this as a contact of %s.\n", portal, m.TenantName)
	return mail.Message{Subject: fmt.Sprintf("[Presence Bridge] %s: %s", m.TenantName, subject), Text: b.String()}
}

// titleOf names the condition in a line.
func titleOf(m store.AlertMail) string {
	switch m.Kind {
	case store.AlertMonitorNeedsReauth:
		if upn, _ := m.Detail["upn"].(string); upn != "" {
			return fmt.Sprintf("Presence monitor %s must sign in again", upn)
		}
		return "A presence monitor must sign in again"
	case store.AlertTenantAccess:
		return "Presence Bridge cannot reach your Microsoft tenant"
	case store.AlertSecretExpiring:
		return fmt.Sprintf("Your app registration's client secret expires within %s", daysOf(m.Subject))
	case store.AlertEndpointDisabled:
		if url, _ := m.Detail["url"].(string); url != "" {
			return fmt.Sprintf("Webhook endpoint %s was disabled", url)
		}
		return "A webhook endpoint was disabled"
	case store.AlertUsersUnmonitored:
		return "Some users are not monitored: more presence monitors are needed"
	}
	return "An alert needs your attention"
}

// fixOf says where the fix is done.
func fixOf(m store.AlertMail, portal string) string {
	switch m.Kind {
	case store.AlertMonitorNeedsReauth:
		return fmt.Sprintf("sign in to the portal at %s, open Monitors and press \"Authorize now\" beside the monitor "+
			"(or \"Copy URL\" and send the link to the monitor account's owner, who opens it and signs in). "+
			"Until then its users are moved to other monitors with room, or go unmonitored.", portal)
	case store.AlertTenantAccess:
		return fmt.Sprintf("follow the steps above; the portal at %s shows when the connection works again.", portal)
	case store.AlertSecretExpiring:
		return fmt.Sprintf("create a new client secret for the app in the Microsoft Entra admin center (App registrations, "+
			"the app, Certificates & secrets), then enter it in the portal at %s (App registration). "+
			"When the secret expires, presence stops being monitored.", portal)
	case store.AlertEndpointDisabled:
		return fmt.Sprintf("in the portal at %s, Integration: correct the endpoint's URL if it moved, enable it, "+
			"and replay the deliveries it missed.", portal)
	case store.AlertUsersUnmonitored:
		return fmt.Sprintf("in the portal at %s, Monitors: add presence monitor accounts and authorize them; "+
			"the users are picked up within a minute.", portal)
	}
	return fmt.Sprintf("see the portal at %s.", portal)
}

func daysOf(stage string) string {
	if stage == "1" {
		return "a day"
	}
	return stage + " days"
}

// stamp prints a time for a reader anywhere: UTC, named.
func stamp(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") }
