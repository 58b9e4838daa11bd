//lint:file-ignore ST1005 the errors are sentences shown to people on the Users page, as they are

package tenantui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// The roster's forms: add users to a list, replace the list with a CSV
// file, follow an Entra group, remove one user. Each is one of
// internal/roster's changes, committed with its audit entry naming the
// viewer as the API's are, and answers with a redirect to the list saying
// what was done; bad input shows the list again with what is wrong.

func (h *handler) addUsers(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	text := r.PostFormValue("users")
	entries, err := roster.ParseList(text)
	if err != nil {
		h.usersRefused(w, r, "users", text, err)
		return
	}
	vw := h.Viewer(r)
	res, err := roster.New(h.Store).Add(r.Context(), vw.TenantID, vw.Actor, entries)
	if errors.Is(err, roster.ErrGroupRoster) {
		h.usersRefused(w, r, "users", text, err)
		return
	}
	if err != nil {
		h.fail(w, r, "add users", err)
		return
	}
	h.usersDone(w, r, "added", res.Added, res.Updated+res.Unchanged)
}

// maxCSVBytes bounds an uploaded roster: 100,000 users of ~100 bytes a
// line. The surface's own limit on a request's body may be lower (the
// portal's is 1 MB): a larger form is refused before it gets here, by the
// surface's CSRF check, saying so.
const maxCSVBytes = 10 << 20

func (h *handler) uploadCSV(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	file, _, err := r.FormFile("csv")
	if err != nil {
		h.usersRefused(w, r, "csv", "", errors.New("Choose a CSV file to upload."))
		return
	}
	defer file.Close()
	entries, err := roster.ParseCSV(http.MaxBytesReader(w, file, maxCSVBytes))
	if err != nil {
		h.usersRefused(w, r, "csv", "", err)
		return
	}
	vw := h.Viewer(r)
	res, err := roster.New(h.Store).Replace(r.Context(), vw.TenantID, vw.Actor, entries, store.SourceCSV)
	if err != nil {
		h.fail(w, r, "upload roster CSV", err)
		return
	}
	h.usersDone(w, r, "uploaded", res.Added, res.Removed)
}

func (h *handler) useGroup(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	in := strings.TrimSpace(r.PostFormValue("group"))
	group, err := uuid.Parse(in)
	if err != nil {
		h.usersRefused(w, r, "group", in, errors.New("Enter the group's object id, such as 0b8f3c1e-2d4a-4e6f-9a1b-3c5d7e9f1a2b."))
		return
	}
	vw := h.Viewer(r)
	_, err = roster.New(h.Store).SetSource(r.Context(), vw.TenantID, vw.Actor, &group)
	if err != nil {
		h.fail(w, r, "use group roster", err)
		return
	}
	h.usersDone(w, r, "group", 0, 0)
}

func (h *handler) removeUser(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	upn, vw := r.PostFormValue("upn"), h.Viewer(r)
	_, err := roster.New(h.Store).RemoveUser(r.Context(), vw.TenantID, vw.Actor, upn)
	if errors.Is(err, store.ErrUserNotFound) {
		h.usersDone(w, r, "removed", 0, 0)
		return
	}
	if errors.Is(err, roster.ErrGroupRoster) {
		h.usersRefused(w, r, "users", "", err)
		return
	}
	if err != nil {
		h.fail(w, r, "remove user", err)
		return
	}
	h.usersDone(w, r, "removed", 1, 0)
}

// usersDone sends the browser back to the list, saying what was done.
func (h *handler) usersDone(w http.ResponseWriter, r *http.Request, what string, n, m int) {
	q := url.Values{"done": {what}, "n": {strconv.Itoa(n)}, "m": {strconv.Itoa(m)}}
	http.Redirect(w, r, h.Viewer(r).Base+"/users/?"+q.Encode(), http.StatusSeeOther)
}

// doneNotice is the list's word on what was just done (usersDone's query).
func doneNotice(q url.Values) *templates.Notice {
	n, _ := strconv.Atoi(q.Get("n"))
	m, _ := strconv.Atoi(q.Get("m"))
	switch q.Get("done") {
	case "added":
		return &templates.Notice{OK: true, Title: "Added " + amount(n, "user", "users") + ".",
			Detail: amount(m, "user was", "users were") + " already on the roster. New users are looked up within a minute."}
	case "uploaded":
		return &templates.Notice{OK: true, Title: "The roster is the CSV file now.",
			Detail: amount(n, "user", "users") + " added, " + amount(m, "user", "users") + " removed. New users are looked up within a minute."}
	case "group":
		return &templates.Notice{OK: true, Title: "The roster follows the Entra group now.",
			Detail: "Its members are read and monitored within a minute."}
	case "removed":
		if n == 0 {
			return &templates.Notice{Title: "That user was not on the roster."}
		}
		return &templates.Notice{OK: true, Title: "The user was removed: their presence is no longer followed."}
	}
	return nil
}

func amount(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// usersRefused shows the list again with the form's input and what is
// wrong with it: every bad entry, a CSV's by line.
func (h *handler) usersRefused(w http.ResponseWriter, r *http.Request, field, input string, err error) {
	v, rerr := h.usersView(r)
	if rerr != nil {
		h.fail(w, r, "read users", rerr)
		return
	}
	var bad *roster.EntriesError
	switch {
	case errors.As(err, &bad):
		where := "Entry"
		if field == "csv" {
			where = "Line"
		}
		v.Errors[field] = fmt.Sprintf("%d of the entries cannot be taken.", len(bad.Problems))
		for _, p := range bad.Problems {
			line := fmt.Sprintf("%s %d: %s", where, p.Line, p.Message)
			if p.Value != "" {
				line += " (" + p.Value + ")"
			}
			v.Problems = append(v.Problems, line)
		}
	case errors.Is(err, roster.ErrGroupRoster):
		v.Errors[field] = "The roster follows an Entra group: change the group's members in Microsoft Entra instead."
	default:
		v.Errors[field] = err.Error()
	}
	switch field {
	case "users":
		v.Entries = input
	case "group":
		v.GroupID = input
	}
	h.render(w, r, http.StatusUnprocessableEntity, templates.TenantUsers(h.frame(r, "users"), v))
}
