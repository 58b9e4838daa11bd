package graphsim

import (
	"html/template"
	"net/http"
)

// The sign-in, MFA and consent pages: plain HTML forms, so that tests (and
// people) can drive them with any HTTP client or browser.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;color:#1b1b1b}
input{display:block;width:100%;padding:.5rem;margin:.3rem 0 1rem;font:inherit}button{padding:.5rem 1.2rem;font:inherit}
.err{color:#a4262c}.note{color:#605e5c;font-size:.9rem}</style></head><body>
<p class="note">graphsim · Microsoft identity platform emulator</p><h1>{{.Title}}</h1>{{end}}

{{define "signin"}}{{template "head" .}}
{{if .Consent}}<p><strong>{{.AppName}}</strong> asks an administrator to grant, for the whole organisation:</p>
<ul id="permissions">{{range .Permissions}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
<form method="post" id="signin">
<input type="hidden" name="req" value="{{.Req}}">
<label for="login">Email, phone, or Skype</label>
<input id="login" name="login" type="email" value="{{.Login}}" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="signin" id="submit">{{if .Consent}}Sign in and accept{{else}}Sign in{{end}}</button>
{{if .Consent}}<button type="submit" name="action" value="cancel" formnovalidate id="cancel">Cancel</button>{{end}}
</form></body></html>{{end}}

{{define "mfa"}}{{template "head" .}}
<p>Approve the sign-in request for <strong>{{.Login}}</strong> in your authenticator app.</p>
<form method="post" id="mfa"><input type="hidden" name="req" value="{{.Req}}">
<button type="submit" name="action" value="mfa" id="approve">I approved it</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button></form></body></html>{{end}}

{{define "message"}}{{template "head" .}}<p class="err" id="error">{{.Error}}</p>
{{if .Req}}<form method="post"><input type="hidden" name="req" value="{{.Req}}">
<button type="submit" name="action" value="cancel" id="back">Return to the application without granting consent</button></form>{{end}}
</body></html>{{end}}

{{define "form_post"}}<!DOCTYPE html><html><head><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<noscript><button type="submit">Continue</button></noscript></form></body></html>{{end}}
`))

type pageData struct {
	Title, Error, Req, Login, AppName string
	Consent                           bool
	Permissions                       []string
	Action                            string
	Fields                            map[string]string
}

func renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	pages.ExecuteTemplate(w, name, d)
}
