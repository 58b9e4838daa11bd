package tenantui

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/store"
	"presencebridge/templates"
)

// Users: the roster a page at a time (filtered by what became of each
// user, searched by UPN prefix), where it comes from, and the forms that
// change it through internal/roster (users_roster.go); one user's
// presence and history (users_user.go); re-syncs (users_sync.go).

// usersPerPage is how many users a page lists.
const usersPerPage = 50

func (h *handler) userRoutes(r chi.Router) {
	r.Get("/", h.users)
	r.Post("/add", h.addUsers)
	r.Post("/csv", h.uploadCSV)
	r.Post("/group", h.useGroup)
	r.Post("/remove", h.removeUser)
	r.Post("/sync", h.syncAll)
	r.Get("/sync/{id}", h.syncOperation)
	r.Get("/u/{ref}", h.user)
	r.Post("/u/{ref}/sync", h.syncUser)
}

// usersFilter is the list's filter from the query: a status word and a
// UPN prefix; the cursor is the last UPN of the page before.
type usersFilter struct {
	status, q, after string
}

func filterOf(r *http.Request) usersFilter {
	q := r.URL.Query()
	f := usersFilter{status: q.Get("status"), q: strings.TrimSpace(q.Get("q"))}
	switch f.status {
	case "monitored", "unmonitored", "unresolved", "pending":
	default:
		f.status = ""
	}
	if b, err := base64.RawURLEncoding.DecodeString(q.Get("after")); err == nil {
		f.after = string(b)
	}
	return f
}

func (f usersFilter) store(limit int) store.UserFilter {
	sf := store.UserFilter{UPNPrefix: f.q, After: f.after, Limit: limit}
	yes, no := true, false
	switch f.status {
	case "monitored":
		sf.Monitored = &yes
	case "unmonitored":
		sf.Status, sf.Monitored = store.UserResolved, &no
	case "unresolved":
		sf.Unresolved = true
	case "pending":
		sf.Status = store.UserPending
	}
	return sf
}

// url is the list's address with this filter, after the UPN after.
func (f usersFilter) url(base, after string) string {
	q := url.Values{}
	if f.status != "" {
		q.Set("status", f.status)
	}
	if f.q != "" {
		q.Set("q", f.q)
	}
	if after != "" {
		q.Set("after", base64.RawURLEncoding.EncodeToString([]byte(after)))
	}
	if len(q) == 0 {
		return base + "/users/"
	}
	return base + "/users/?" + q.Encode()
}

func (h *handler) users(w http.ResponseWriter, r *http.Request) {
	v, err := h.usersView(r)
	if err != nil {
		h.fail(w, r, "read users", err)
		return
	}
	if r.URL.Query().Get("done") != "" {
		v.Done = doneNotice(r.URL.Query())
	}
	h.render(w, r, http.StatusOK, templates.TenantUsers(h.frame(r, "users"), v))
}

// usersView reads the page: counts, source and the filtered page.
func (h *handler) usersView(r *http.Request) (templates.TenantUsersView, error) {
	ctx, vw := r.Context(), h.Viewer(r)
	f := filterOf(r)
	v := templates.TenantUsersView{Base: vw.Base, Status: f.status, Q: f.q, Errors: map[string]string{}}
	c, err := h.Store.UserCountsOf(ctx, vw.TenantID)
	if err != nil {
		return v, err
	}
	v.Total, v.Monitored, v.Unmonitored, v.Unresolved, v.Pending = c.Total, c.Monitored, c.Unmonitored, c.Unresolved, c.Pending
	src, err := h.Store.TenantRosterSource(ctx, vw.TenantID)
	if err != nil {
		return v, err
	}
	if v.Group = src.Kind == store.SourceGroup; v.Group && src.GroupID != nil {
		v.GroupID, v.SyncError = src.GroupID.String(), src.LastSyncError
		if src.LastSyncAt != nil {
			v.LastSync = when(*src.LastSyncAt)
		}
	}
	us, err := h.Store.DirectoryUsersPage(ctx, vw.TenantID, f.store(usersPerPage+1))
	if err != nil {
		return v, err
	}
	for i, u := range us {
		if i == usersPerPage {
			v.Next = f.url(vw.Base, strings.ToLower(us[i-1].UPN))
			break
		}
		row := templates.TenantUserRow{UPN: u.UPN, DisplayName: u.DisplayName, Reason: u.Error,
			Href: vw.Base + "/users/u/" + url.PathEscape(u.UPN)}
		row.State, row.Badge = UserState(u)
		v.Users = append(v.Users, row)
	}
	if f.after != "" {
		v.First = f.url(vw.Base, "")
	}
	return v, nil
}

// UserState is what became of a roster entry, in words, and its badge
// (ok, pending, bad): as the Users pages say it, for the console's user
// lookup too.
func UserState(u store.DirectoryUser) (state, badge string) {
	switch {
	case u.Monitored:
		return "monitored", "ok"
	case u.Status == store.UserResolved:
		return "unmonitored: no monitor with room", "bad"
	case u.Status == store.UserPending:
		return "being looked up", "pending"
	case u.Status == store.UserNotFound:
		return "not found", "bad"
	case u.Status == store.UserDisabled:
		return "disabled", "bad"
	case u.Status == store.UserDuplicate:
		return "duplicate", "bad"
	}
	return u.Status, "pending"
}

// when is a time as the pages show it.
func when(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05 UTC") }
