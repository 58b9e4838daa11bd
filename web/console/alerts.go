package console

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/english"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// Alerts (/console/alerts): every tenant's alerts in one list, open ones
// by default, with how long each has been open and the mails its tenant's
// contacts were sent about it; filtered by kind and tenant.

// alertsPage is how many alerts the list shows at once.
const alertsPage = 50

// alertKinds are the kinds of alert the engine and the services raise
// (store.Alert…), as the filter offers them.
var alertKinds = []templates.Option{
	{Value: "", Label: "Any kind"},
	{Value: store.AlertTenantAccess, Label: "Access to Microsoft broken"},
	{Value: store.AlertMonitorNeedsReauth, Label: "Monitor needs re-authorization"},
	{Value: store.AlertUsersUnmonitored, Label: "Users not monitored"},
	{Value: store.AlertUsersUnresolved, Label: "Users not found"},
	{Value: store.AlertEndpointDisabled, Label: "Webhook disabled"},
	{Value: store.AlertSecretExpiring, Label: "App secret expiring"},
	{Value: store.AlertWriteBackConsent, Label: "Write-back not granted"},
}

// timeCursor is where a page ordered by time ends (alerts, the audit
// log): its last row's time and id.
type timeCursor struct {
	At time.Time `json:"a"`
	ID int64     `json:"i"`
}

// alerts is GET /console/alerts/: ?kind=, ?tenant= (an id, or part of a
// name), ?resolved=1 for resolved ones too, ?after= a page's cursor.
func (h *handler) alerts(w http.ResponseWriter, r *http.Request) {
	in := r.URL.Query()
	f := templates.ConsoleAlertFilter{Kind: in.Get("kind"), Tenant: strings.TrimSpace(in.Get("tenant")), Resolved: in.Get("resolved") == "1",
		Kinds: alertKinds}
	q := store.AlertListQuery{Kind: f.Kind, Resolved: f.Resolved, Limit: alertsPage}
	q.TenantID, q.TenantName = tenantFilter(f.Tenant)
	if c, ok := afterTime(in); ok {
		q.After = &store.Alert{RaisedAt: c.At, ID: c.ID}
	}
	page, more, err := h.Store.AlertList(r.Context(), q)
	if err != nil {
		h.fail(w, r, "alert list", err)
		return
	}
	v := templates.ConsoleAlertsView{Filter: f}
	now := h.Now()
	for _, a := range page {
		v.Alerts = append(v.Alerts, alertRow(a, now))
	}
	kept := url.Values{}
	for k, val := range map[string]string{"kind": f.Kind, "tenant": f.Tenant} {
		if val != "" {
			kept.Set(k, val)
		}
	}
	if f.Resolved {
		kept.Set("resolved", "1")
	}
	first := Prefix + "/alerts/?" + kept.Encode()
	if more {
		last := page[len(page)-1]
		v.Next = first + "&" + url.Values{"after": {encodeCursor(timeCursor{At: last.RaisedAt, ID: last.ID})}}.Encode()
	}
	if q.After != nil {
		v.First = first
	}
	h.render(w, r, http.StatusOK, templates.ConsoleAlerts(h.frame(r, "alerts"), v))
}

func alertRow(a store.AlertListItem, now time.Time) templates.ConsoleAlert {
	row := templates.ConsoleAlert{Tenant: a.TenantName, TenantURL: tenantBase(a.TenantID) + "/", FilterURL: Prefix + "/alerts/?tenant=" + a.TenantID.String(),
		Kind: a.Kind, Message: a.Message, Open: a.ResolvedAt == nil, Raised: stamp(a.RaisedAt), Mails: english.Count(a.MailsSent, "mail", "mails") + " sent"}
	if a.ResolvedAt == nil {
		row.Age = "open for " + until(now.Sub(a.RaisedAt))
	} else {
		row.Age = "was open " + until(a.ResolvedAt.Sub(a.RaisedAt)) + ", resolved " + ago(now, *a.ResolvedAt)
	}
	if a.MailsSent == 0 {
		row.Mails = "no mail sent"
	}
	for _, m := range a.Mails {
		row.MailList = append(row.MailList, templates.ConsoleMail{Reason: m.Reason, To: strings.Join(m.Recipients, ", "), Subject: m.Subject,
			Sent: ago(now, m.SentAt)})
	}
	return row
}

// encodeCursor and decodeCursor carry a page's end in a URL.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor fills v from s; false when s is empty or not a cursor (the
// first page then).
func decodeCursor(s string, v any) bool {
	if s == "" {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

// tenantFilter reads a filter's tenant: an id, else part of a name.
func tenantFilter(s string) (*uuid.UUID, string) {
	if id, err := uuid.Parse(s); err == nil {
		return &id, ""
	}
	return nil, s
}

// afterTime reads ?after=, the end of the page before in a list ordered
// by time; ok is false on the first page (or a cursor that does not
// read, which starts there).
func afterTime(in url.Values) (timeCursor, bool) {
	var c timeCursor
	ok := decodeCursor(in.Get("after"), &c)
	return c, ok
}
