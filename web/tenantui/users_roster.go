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

// maxCSVBytes bounds an uploaded roster file: 100,000 users — a large
// tenant's whole roster in one file, where the tenant API takes 10,000 a
// call — at up to 200 bytes a line (a UPN of Entra's longest, 113
// characters, a telephony id of up to 80, separators). The same bound as
// onboarding's CSV (internal/onboarding's form).
const maxCSVBytes = 20 << 20

// CSVUploadPath is the roster upload's path under Base: the one form of
// these pages whose body may be larger than the surface's limit for the
// others, up to MaxCSVUploadBody. The surface applies that limit before
// reading the form (its CSRF check reads it) and answers a body over it
// with UploadTooLarge.
const CSVUploadPath = "/users/csv"

// MaxCSVUploadBody bounds the upload's request body: the file and the
// rest of the multipart form around it (the token, the part headers).
const MaxCSVUploadBody = maxCSVBytes + 64<<10

// UploadTooLarge answers a roster upload whose body was over
// MaxCSVUploadBody, which the surface refused before reading it: the
// Users page again, saying what the limit is. It changes nothing.
func UploadTooLarge(d Deps) http.Handler {
	h := newHandler(d)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.csvTooLarge(w, r) })
}

func (h *handler) csvTooLarge(w http.ResponseWriter, r *http.Request) {
	h.usersRefusedWith(w, r, http.StatusRequestEntityTooLarge, "csv", "", errCSVTooLarge)
}

var errCSVTooLarge = fmt.Errorf("The file is larger than %d MB, the most an upload takes, so the roster was not changed. "+
	"Leave only the upn and telephonyId columns (100,000 users fit), or send the roster through the tenant API or follow an Entra group.",
	maxCSVBytes>>20)

func (h *handler) uploadCSV(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	file, hdr, err := r.FormFile("csv")
	if err != nil {
		h.usersRefused(w, r, "csv", "", errors.New("Choose a CSV file to upload."))
		return
	}
	defer file.Close()
	if hdr.Size > maxCSVBytes {
		h.csvTooLarge(w, r)
		return
	}
	entries, err := roster.ParseCSV(file)
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
	h.usersRefusedWith(w, r, http.StatusUnprocessableEntity, field, input, err)
}

func (h *handler) usersRefusedWith(w http.ResponseWriter, r *http.Request, status int, field, input string, err error) {
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
	h.render(w, r, status, templates.TenantUsers(h.frame(r, "users"), v))
}
