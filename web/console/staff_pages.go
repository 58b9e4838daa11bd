package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// The Staff page, for admins: the accounts, and adding one, its role, its
// state, its lock, its authenticator app and its password — each change
// through internal/staff, which audits it as the admin and refuses to
// leave no admin. Every change needs a sign-in of the last few minutes
// (requireFresh), as it may hand out a password or a role.

// sessionStaffFlash carries the outcome of a change, and a password made
// by it, across the redirect to the Staff page, sealed in the session.
const sessionStaffFlash = "console.staff_flash"

// staffFlash is what the Staff page shows once after a change.
type staffFlash struct {
	Title    string `json:"t"`
	Detail   string `json:"d,omitempty"`
	Email    string `json:"e,omitempty"`
	Password string `json:"p,omitempty"`
}

func (h *handler) staffRoutes(r chi.Router) {
	r.Route("/staff", func(r chi.Router) {
		r.Use(requireRole(staff.Admin, h))
		r.Get("/", h.staffList)
		r.Post("/add", h.addStaff)
		r.Post("/{action}", h.changeStaff)
	})
}

// staffList is GET /console/staff.
func (h *handler) staffList(w http.ResponseWriter, r *http.Request) {
	var f staffFlash
	if b, err := h.Sessions.PopSealed(r.Context(), sessionStaffFlash); err != nil {
		h.Logger.LogAttrs(r.Context(), slog.LevelWarn, "console: a change's outcome to show is lost", slog.Any("err", err))
	} else if b != nil {
		json.Unmarshal(b, &f)
	}
	v := templates.ConsoleStaffView{Add: templates.ConsoleStaffAdd{Role: string(staff.Viewer)}}
	if f.Title != "" {
		v.Notice = &templates.Notice{Title: f.Title, Detail: f.Detail, OK: true}
	}
	if f.Password != "" {
		v.Password = &templates.ConsoleStaffPassword{Email: f.Email, Value: f.Password}
	}
	h.staffPage(w, r, http.StatusOK, v)
}

// staffPage renders the Staff page with v's notice, password and add form,
// and the accounts as they are now.
func (h *handler) staffPage(w http.ResponseWriter, r *http.Request, status int, v templates.ConsoleStaffView) {
	all, err := h.Staff.List(r.Context())
	if err != nil {
		h.fail(w, r, "list staff", err)
		return
	}
	now, me := h.Now(), memberOf(r.Context())
	for _, s := range all {
		last := "never"
		if s.LastSignInAt != nil {
			last = s.LastSignInAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		v.Members = append(v.Members, templates.ConsoleStaffMember{Email: s.Email, Name: s.Name, Role: s.Role,
			State: staff.State(s, now), Disabled: s.DisabledAt != nil, TOTP: s.TOTP, LastSignIn: last, You: s.ID == me.ID,
			Locked: s.FailedSignIns > 0 || s.LockedUntil != nil && s.LockedUntil.After(now)})
	}
	h.render(w, r, status, templates.ConsoleStaff(h.frame(r, "staff"), v))
}

// addStaff is POST /console/staff/add: an account with the role and the
// password chosen, or one made here and shown once.
func (h *handler) addStaff(w http.ResponseWriter, r *http.Request) {
	if !h.requireFresh(w, r) {
		return
	}
	ctx := r.Context()
	add := templates.ConsoleStaffAdd{Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Role: r.PostFormValue("role")}
	password := r.PostFormValue("password")
	generated := password == ""
	if generated {
		password = staff.GeneratePassword()
	}
	role, err := staff.ParseRole(add.Role)
	var who store.Staff
	if err == nil {
		who, err = h.Staff.Add(ctx, add.Email, add.Name, role, password, staff.Actor(memberOf(ctx).Email))
	} else {
		err = &staff.Refusal{Reason: err.Error()}
	}
	if refusal, ok := errors.AsType[*staff.Refusal](err); ok {
		h.staffPage(w, r, http.StatusUnprocessableEntity, templates.ConsoleStaffView{Add: add,
			Notice: &templates.Notice{Title: "The account was not added: " + refusal.Reason + "."}})
		return
	}
	if err != nil {
		h.fail(w, r, "add staff", err)
		return
	}
	f := staffFlash{Title: who.Email + " may sign in now, as " + who.Role + "."}
	if generated {
		f.Email, f.Password = who.Email, password
	}
	h.staffChanged(w, r, f)
}

// staffChanges are the changes POST /console/staff/{action} makes to the
// account of the form's email besides role and password, with what the
// page says after (%s: the account's address).
var staffChanges = map[string]struct {
	do            func(svc *staff.Service, ctx context.Context, email, by string) (store.Staff, error)
	title, detail string
}{
	"disable":    {(*staff.Service).Disable, "%s is disabled.", "It cannot sign in, and a session it has ends at its next request."},
	"enable":     {(*staff.Service).Enable, "%s may sign in again.", ""},
	"unlock":     {(*staff.Service).Unlock, "%s is unlocked.", "It may sign in at once."},
	"reset-totp": {(*staff.Service).ResetTOTP, "%s signs in with its password alone now.", "Its person may set up a new authenticator app on their Account page."},
}

// changeStaff is POST /console/staff/{action}: the account's role (the
// form's role), a new password made here and shown once, or one of
// staffChanges.
func (h *handler) changeStaff(w http.ResponseWriter, r *http.Request) {
	action := chi.URLParam(r, "action")
	change, simple := staffChanges[action]
	if !simple && action != "role" && action != "password" {
		http.NotFound(w, r)
		return
	}
	if !h.requireFresh(w, r) {
		return
	}
	ctx := r.Context()
	email, by := strings.TrimSpace(r.PostFormValue("email")), staff.Actor(memberOf(ctx).Email)
	var who store.Staff
	var err error
	f := staffFlash{Title: change.title, Detail: change.detail}
	switch action {
	case "role":
		var role staff.Role
		if role, err = staff.ParseRole(r.PostFormValue("role")); err != nil {
			err = &staff.Refusal{Reason: err.Error()}
			break
		}
		who, err = h.Staff.SetRole(ctx, email, role, by)
		f = staffFlash{Title: "%s is " + string(role) + " now.", Detail: "It applies at the account's next request."}
	case "password":
		password := staff.GeneratePassword()
		who, err = h.Staff.SetPassword(ctx, email, password, by)
		f = staffFlash{Title: "%s has a new password.", Detail: "Its old one no longer signs in.", Password: password}
	default:
		who, err = change.do(h.Staff, ctx, email, by)
	}
	if refusal, ok := errors.AsType[*staff.Refusal](err); ok {
		h.staffPage(w, r, http.StatusUnprocessableEntity, templates.ConsoleStaffView{Add: templates.ConsoleStaffAdd{Role: string(staff.Viewer)},
			Notice: &templates.Notice{Title: "Nothing was changed: " + refusal.Reason}})
		return
	}
	if err != nil {
		h.fail(w, r, action+" staff", err)
		return
	}
	f.Title = fmt.Sprintf(f.Title, who.Email)
	if f.Password != "" {
		f.Email = who.Email
	}
	h.staffChanged(w, r, f)
}

// staffChanged leaves f for the Staff page, sealed, and goes there.
func (h *handler) staffChanged(w http.ResponseWriter, r *http.Request, f staffFlash) {
	b, _ := json.Marshal(f)
	if err := h.Sessions.PutSealed(r.Context(), sessionStaffFlash, b); err != nil {
		h.fail(w, r, "keep the change's outcome", err)
		return
	}
	http.Redirect(w, r, Prefix+"/staff", http.StatusSeeOther)
}
