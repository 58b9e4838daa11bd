package main

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/mail"
	"presencebridge/internal/store"
)

// devMailPath is where development's captured mail is listed.
const devMailPath = "/_dev/mail"

// mailer is how this process sends alert mail: through PB_SMTP_HOST when
// set; captured in the database outside production (read at devMailPath);
// in production without a server, not at all (nil). Production does not
// refuse to start without one: alerts still show in the portal and the
// API, and a deployment that predates alert mail keeps starting; the one
// log line says mail is off and how to turn it on.
func (a *app) mailer() (mail.Mailer, error) {
	cfg := a.cfg
	switch {
	case cfg.MailEnabled():
		m, err := mail.NewSMTP(mail.SMTPOptions{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword.Reveal(), From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
		if err != nil {
			return nil, err
		}
		a.logger.Info("alert mail: sent through SMTP", "host", cfg.SMTPHost, "port", cfg.SMTPPort, "tls", cfg.SMTPTLS,
			"from", cfg.SMTPFrom, "username", cfg.SMTPUsername)
		return m, nil
	case !cfg.Production():
		a.logger.Info("alert mail: captured in the database, not sent (development without PB_SMTP_HOST); read it at " + devMailPath)
		return mail.NewCapture(a.store, cfg.SMTPFrom), nil
	}
	a.logger.Info("alert mail: off, as PB_SMTP_HOST is not set; alerts show in the portal and the API only (set PB_SMTP_HOST and PB_SMTP_FROM to mail tenants' contacts)")
	return nil, nil
}

// capturesMail says whether this process keeps mail instead of sending it,
// and so serves devMailPath.
func capturesMail(a *app) bool { return !a.cfg.MailEnabled() && !a.cfg.Production() }

// devMailRoutes serves the captured mail, newest first.
func devMailRoutes(st *store.Store) func(chi.Router) {
	return func(r chi.Router) {
		r.Get(devMailPath, func(w http.ResponseWriter, req *http.Request) {
			ms, err := st.CapturedMails(req.Context(), 200)
			if err != nil {
				http.Error(w, "captured mail: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			devMailPage.Execute(w, ms)
		})
	}
}

var devMailPage = template.Must(template.New("mail").Funcs(template.FuncMap{"join": strings.Join}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Captured mail · Presence Bridge</title></head>
<body>
<h1>Captured mail</h1>
<p>Mail Presence Bridge would have sent (development, no PB_SMTP_HOST): newest first, the last 200. Reload to see new mail.</p>
{{range .}}<article>
<h2>{{.Subject}}</h2>
<p>From {{.From}} to {{join .To ", "}}, {{.CapturedAt.UTC.Format "2006-01-02 15:04:05 UTC"}}</p>
<pre>{{.Body}}</pre>
</article><hr>
{{else}}<p>No mail yet.</p>
{{end}}</body></html>
`))
