package console

import (
	"errors"
	"net/http"

	"presencebridge/internal/staff"
	"presencebridge/templates"
)

// account is GET /console/account: the signed-in account, and its TOTP
// enrollment when one was started (startEnrollment).
func (h *handler) account(w http.ResponseWriter, r *http.Request) {
	h.accountPage(w, r, http.StatusOK, nil)
}

func (h *handler) accountPage(w http.ResponseWriter, r *http.Request, status int, n *templates.Notice) {
	m := memberOf(r.Context())
	v := templates.ConsoleAccountView{Email: m.Email, Role: string(m.Role), TOTP: m.TOTP, Notice: n}
	if secret := h.Sessions.GetString(r.Context(), sessionEnroll); secret != "" {
		e, err := staff.EnrollmentOf(m.Email, secret)
		if err != nil {
			h.fail(w, r, "TOTP enrollment", err)
			return
		}
		v.Enroll = &templates.ConsoleEnrollView{Secret: e.Secret, URL: e.URL}
	}
	h.render(w, r, status, templates.ConsoleAccount(h.frame(r, "account"), v))
}

// startEnrollment is POST /console/account/totp/new: a new secret, kept in
// the server-side session (never in the page's form) until a code proves
// the person's app has it.
func (h *handler) startEnrollment(w http.ResponseWriter, r *http.Request) {
	e, err := staff.NewEnrollment(memberOf(r.Context()).Email)
	if err != nil {
		h.fail(w, r, "new TOTP secret", err)
		return
	}
	h.Sessions.Put(r.Context(), sessionEnroll, e.Secret)
	http.Redirect(w, r, Prefix+"/account", http.StatusSeeOther)
}

// enroll is POST /console/account/totp: the code of the offered secret;
// right, and the account asks for a code at every sign-in from now on.
func (h *handler) enroll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	secret := h.Sessions.GetString(ctx, sessionEnroll)
	if secret == "" {
		http.Redirect(w, r, Prefix+"/account", http.StatusSeeOther)
		return
	}
	err := h.Staff.Enroll(ctx, memberOf(ctx).ID, secret, r.PostFormValue("code"))
	if refusal, ok := errors.AsType[*staff.Refusal](err); ok {
		h.accountPage(w, r, http.StatusUnprocessableEntity, &templates.Notice{Title: refusal.Reason})
		return
	}
	if err != nil {
		h.fail(w, r, "enroll TOTP", err)
		return
	}
	h.Sessions.Remove(ctx, sessionEnroll)
	m := memberOf(ctx)
	m.TOTP = true
	r = r.WithContext(withMember(ctx, m))
	h.accountPage(w, r, http.StatusOK, &templates.Notice{Title: "Your authenticator app is set up.",
		Detail: "From your next sign-in on, the console asks for its code after your password.", OK: true})
}
