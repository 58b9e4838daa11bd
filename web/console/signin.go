package console

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/httprate"
	"github.com/google/uuid"

	"presencebridge/internal/staff"
	"presencebridge/templates"
)

// Limits bound sign-in attempts (password or code) a minute, counted on
// each instance (httprate keeps them in memory). Across instances the
// account lock (internal/staff: 5 failures, 15 minutes) is the bound; these
// slow down guessing at many accounts from one address, and hashing
// floods.
type Limits struct {
	PerIP      int // from one client address (the connection's: trust no header)
	PerAccount int // at one e-mail address, known or not
}

func (l Limits) withDefaults() Limits {
	if l.PerIP <= 0 {
		l.PerIP = 20
	}
	if l.PerAccount <= 0 {
		l.PerAccount = 10
	}
	return l
}

// FreshFor is how recent a sign-in must be before a tenant page reveals a
// secret or creates a key: the portal's rule (identity.FreshFor).
const FreshFor = 10 * time.Minute

// pendingFor is how long a right password waits for its code.
const pendingFor = 5 * time.Minute

// pending is a right password of a TOTP account, waiting for its code.
type pending struct {
	ID      uuid.UUID `json:"i"`
	Expires time.Time `json:"e"`
	Return  string    `json:"r"`
}

var notAccepted = &templates.Notice{Title: "The e-mail address, password or code was not accepted.",
	Detail: "Check them and try again. After several failed attempts an account is locked for a while."}

func (h *handler) signInRoutes(r chi.Router) {
	limited := r.With(h.limit(h.Limits.PerIP, ipKey), h.limit(h.Limits.PerAccount, h.accountKey))
	r.Get("/signin", h.signInForm)
	limited.Post("/signin", h.signIn)
	r.Get("/signin/code", h.codeForm)
	limited.Post("/signin/code", h.code)
	r.Post("/signout", h.signOut)
	h.ssoRoutes(r)
}

// clientIP is the connection's address, for the audit log and the
// per-address limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limit bounds requests a minute by key.
func (h *handler) limit(n int, key httprate.KeyFunc) func(http.Handler) http.Handler {
	return httprate.LimitBy(n, time.Minute, key,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", strconv.Itoa(60))
			h.signInPage(w, r, http.StatusTooManyRequests, r.PostFormValue("email"), "", &templates.Notice{
				Title: "Too many sign-in attempts.", Detail: "Wait a minute, then try again."})
		}))
}

func ipKey(r *http.Request) (string, error) { return "ip:" + httprate.CanonicalizeIP(clientIP(r)), nil }

// accountKey is the e-mail address signing in, or the account whose code
// is awaited.
func (h *handler) accountKey(r *http.Request) (string, error) {
	if p, ok := h.pending(r.Context()); ok && r.URL.Path == Prefix+"/signin/code" {
		return "staff:" + p.ID.String(), nil
	}
	return "email:" + strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), nil
}

func (h *handler) signInPage(w http.ResponseWriter, r *http.Request, status int, email, back string, n *templates.Notice) {
	h.render(w, r, status, templates.ConsoleSignIn(templates.ConsoleSignInView{CSRF: h.csrf.Token(r.Context()), Email: email,
		Return: back, Notice: n, Microsoft: h.microsoftURL(r, safeReturn(back))}))
}

// signInForm is GET /console/signin: the form, also for a signed-in
// account asked to sign in again (?fresh=1) before a sensitive step.
func (h *handler) signInForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if h.Sessions.GetString(r.Context(), sessionStaff) != "" && q.Get("fresh") != "1" {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	var n *templates.Notice
	if q.Get("fresh") == "1" {
		n = &templates.Notice{Title: "Sign in again to continue.", Detail: "This step needs a sign-in of the last few minutes."}
	}
	h.signInPage(w, r, http.StatusOK, "", safeReturn(q.Get("return")), n)
}

// signIn is POST /console/signin: the password, then the code page for an
// account with TOTP, or signed in.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email, back := strings.TrimSpace(r.PostFormValue("email")), safeReturn(r.PostFormValue("return"))
	a, err := h.Staff.CheckPassword(ctx, email, r.PostFormValue("password"), clientIP(r))
	if errors.Is(err, staff.ErrNotAccepted) {
		h.signInPage(w, r, http.StatusUnauthorized, email, back, notAccepted)
		return
	}
	if err != nil {
		h.fail(w, r, "check password", err)
		return
	}
	if a.NeedsCode {
		b, _ := json.Marshal(pending{ID: a.Staff.ID, Expires: h.Now().Add(pendingFor), Return: back})
		h.Sessions.Put(ctx, sessionPending, b)
		http.Redirect(w, r, Prefix+"/signin/code", http.StatusSeeOther)
		return
	}
	h.signedIn(w, r, a.Staff.ID, back, h.Now())
}

func (h *handler) pending(ctx context.Context) (pending, bool) {
	var p pending
	b := h.Sessions.GetBytes(ctx, sessionPending)
	ok := b != nil && json.Unmarshal(b, &p) == nil && h.Now().Before(p.Expires)
	return p, ok
}

// codeForm is GET /console/signin/code.
func (h *handler) codeForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.pending(r.Context()); !ok {
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, templates.ConsoleCode(templates.ConsoleCodeView{CSRF: h.csrf.Token(r.Context())}))
}

// code is POST /console/signin/code: the TOTP code after a right
// password. A wrong code counts towards the account's lock.
func (h *handler) code(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := h.pending(ctx)
	if !ok {
		h.signInPage(w, r, http.StatusUnauthorized, "", "", &templates.Notice{Title: "Your sign-in took too long.", Detail: "Start again."})
		return
	}
	_, err := h.Staff.CheckCode(ctx, p.ID, strings.TrimSpace(r.PostFormValue("code")), clientIP(r))
	if errors.Is(err, staff.ErrNotAccepted) {
		h.render(w, r, http.StatusUnauthorized, templates.ConsoleCode(templates.ConsoleCodeView{CSRF: h.csrf.Token(ctx), Notice: notAccepted}))
		return
	}
	if err != nil {
		h.fail(w, r, "check code", err)
		return
	}
	h.signedIn(w, r, p.ID, p.Return, h.Now())
}

// signedIn starts the account's session under a new session token, so a
// token planted in the browser before (session fixation) grants nothing;
// authTime is when the person entered their credentials (FreshFor).
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request, id uuid.UUID, back string, authTime time.Time) {
	ctx := r.Context()
	if err := h.Sessions.RenewToken(ctx); err != nil {
		h.fail(w, r, "renew session", err)
		return
	}
	h.Sessions.Remove(ctx, sessionPending)
	h.Sessions.Put(ctx, sessionStaff, id.String())
	h.Sessions.Put(ctx, sessionAuthTime, authTime.Unix())
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// signOut is POST /console/signout.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if id, err := uuid.Parse(h.Sessions.GetString(ctx, sessionStaff)); err == nil {
		if who, err := h.Store.GetStaff(ctx, id); err == nil {
			if err := h.Staff.SignedOut(ctx, who); err != nil {
				h.fail(w, r, "audit sign-out", err)
				return
			}
		}
	}
	if err := h.endSession(ctx); err != nil {
		h.fail(w, r, "end session", err)
		return
	}
	h.signInPage(w, r, http.StatusOK, "", "", &templates.Notice{Title: "You are signed out.", OK: true})
}

// endSession drops the session's console keys, under a new session token.
func (h *handler) endSession(ctx context.Context) error {
	for _, k := range []string{sessionStaff, sessionAuthTime, sessionPending, sessionEnroll, sessionSSO} {
		h.Sessions.Remove(ctx, k)
	}
	return h.Sessions.RenewToken(ctx)
}

// requireFresh lets a tenant page go on with a sign-in at most FreshFor
// old; otherwise it sends the account to sign in again, coming back to the
// page, and returns false.
func (h *handler) requireFresh(w http.ResponseWriter, r *http.Request) bool {
	if h.Now().Sub(memberOf(r.Context()).AuthTime) <= FreshFor {
		return true
	}
	back := r.URL.Path
	if r.Method != http.MethodGet {
		back = ""
		if u, err := url.Parse(r.Header.Get("Referer")); err == nil && u.Host == r.Host {
			back = u.Path
		}
	}
	http.Redirect(w, r, Prefix+"/signin?fresh=1&return="+url.QueryEscape(safeReturn(back)), http.StatusSeeOther)
	return false
}

// safeReturn keeps a page to return to only when it is the console's own.
func safeReturn(back string) string {
	if !strings.HasPrefix(back, Prefix+"/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		return Prefix + "/"
	}
	return back
}
