package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"presencebridge/templates"
)

// CSRFField is the hidden form field that carries the synchronizer token.
const CSRFField = "csrf"

const csrfSessionKey = "csrf"

// CSRF guards the state-changing requests of a cookie-authenticated
// surface twice over: the standard library's cross-origin check
// (Sec-Fetch-Site, else Origin against Host), and a per-session
// synchronizer token every form sends back in its hidden csrf field. The
// token covers what the header check cannot see: old browsers, and
// requests forged from a sibling origin on the same site.
type CSRF struct {
	sessions *Sessions
	cop      *http.CrossOriginProtection
	reject   http.Handler
	tooLarge func(w http.ResponseWriter, r *http.Request, limit int64)
}

// NewCSRF returns the guard. reject answers refused requests (it should
// explain, with status 403, that the form expired or came from another
// site); nil answers with plain text.
func NewCSRF(s *Sessions, reject http.Handler) *CSRF {
	if reject == nil {
		reject = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "This form has expired or was sent from another site. Reload the page and try again.", http.StatusForbidden)
		})
	}
	return &CSRF{sessions: s, cop: http.NewCrossOriginProtection(), reject: reject, tooLarge: FormTooLarge}
}

// OnTooLarge sets what answers a form over the surface's body limit, in
// place of FormTooLarge: a surface whose page can say so beside the form
// it came from (the roster's CSV upload). The form was not read, so its
// token was not checked: answer must change nothing, only show a page.
func (c *CSRF) OnTooLarge(answer func(w http.ResponseWriter, r *http.Request, limit int64)) {
	c.tooLarge = answer
}

// Token returns the session's token, creating it on first use. Pages put
// it in every form's csrf field. It must run inside the session middleware.
func (c *CSRF) Token(ctx context.Context) string {
	if t := c.sessions.GetString(ctx, csrfSessionKey); t != "" {
		return t
	}
	t := rand.Text()
	c.sessions.Put(ctx, csrfSessionKey, t)
	return t
}

// Protect lets safe methods through and refuses any other request that is
// cross-origin or lacks the session's token; a refused request reaches no
// handler, so it changes nothing. It must run inside the session
// middleware, and after any limit on the request body (it reads the form).
func (c *CSRF) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if err := c.cop.Check(r); err != nil {
			c.reject.ServeHTTP(w, r)
			return
		}
		// The token is in the form, so the form is read here, before any
		// handler: a body over the surface's limit (http.MaxBytesReader)
		// fails now, and is refused as too large rather than as a form
		// without its token, which it would otherwise seem.
		if err := parseForm(r); err != nil {
			if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
				c.tooLarge(w, r, tooLarge.Limit)
				return
			}
			c.reject.ServeHTTP(w, r)
			return
		}
		want := c.sessions.GetString(r.Context(), csrfSessionKey)
		got := r.PostFormValue(CSRFField)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			c.reject.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxFormMemory is how much of a multipart form is kept in memory, the
// rest in temporary files: the standard library's own default, which
// Request.PostFormValue uses.
const maxFormMemory = 32 << 20

// parseForm reads the request's form, multipart or not. ParseForm comes
// first because ParseMultipartForm calls it but drops its error when the
// body is not multipart: a urlencoded form over the limit would pass for
// one without its token.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if err := r.ParseMultipartForm(maxFormMemory); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return err
	}
	return nil
}

// FormTooLarge answers a form over limit bytes, which reached no handler.
func FormTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Cache-Control", "no-store")
	render(w, r, http.StatusRequestEntityTooLarge, templates.FormTooLarge(byteSize(limit)), slog.New(slog.DiscardHandler))
}

// byteSize is n in words: "1 MB", "512 KB", "100 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
