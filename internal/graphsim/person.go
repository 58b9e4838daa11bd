package graphsim

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Person drives graphsim's sign-in and consent pages over HTTP the way a
// person in a browser would: open the page, type the account and password,
// approve the MFA prompt, and follow the redirect back to the application.
// Tests of any package use it where a real browser would be overkill.
type Person struct {
	HTTP *http.Client
	// DeclineMFA makes the person cancel the MFA prompt instead of approving.
	DeclineMFA bool
}

// NewPerson returns a Person with its own cookie jar.
func NewPerson() *Person {
	jar, _ := cookiejar.New(nil)
	return &Person{HTTP: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// PageError is a sign-in that ended on one of graphsim's pages instead of
// redirecting to the application: Message is the page's error text
// ("AADSTS50126: Your account or password is incorrect.").
type PageError struct {
	Status  int
	Message string
}

func (e *PageError) Error() string { return fmt.Sprintf("sign-in page (%d): %s", e.Status, e.Message) }

var (
	personReq   = regexp.MustCompile(`name="req" value="([^"]+)"`)
	personError = regexp.MustCompile(`(?s)<p class="err" id="error">(.*?)</p>`)
	personTags  = regexp.MustCompile(`<[^>]+>`)
)

// SignIn opens authURL (an authorize or admin-consent URL), signs in as
// upn with password and returns the query of the redirect to the
// application (code and state, admin_consent and tenant, or error).
func (p *Person) SignIn(ctx context.Context, authURL, upn, password string) (url.Values, error) {
	return p.run(ctx, authURL, url.Values{"login": {upn}, "password": {password}, "action": {"signin"}})
}

// Decline opens authURL and presses Cancel.
func (p *Person) Decline(ctx context.Context, authURL string) (url.Values, error) {
	return p.run(ctx, authURL, url.Values{"action": {"cancel"}})
}

func (p *Person) run(ctx context.Context, authURL string, form url.Values) (url.Values, error) {
	q, body, status, err := p.do(ctx, "GET", authURL, nil)
	if err != nil || q != nil {
		return q, err
	}
	m := personReq.FindStringSubmatch(body)
	if m == nil {
		return nil, pageError(status, body)
	}
	page, _ := url.Parse(authURL)
	page.RawQuery = ""
	form.Set("req", html.UnescapeString(m[1]))
	q, body, status, err = p.do(ctx, "POST", page.String(), form)
	if err != nil || q != nil {
		return q, err
	}
	if strings.Contains(body, `id="mfa"`) { // approve the sign-in on the phone
		m := personReq.FindStringSubmatch(body)
		action := "mfa"
		if p.DeclineMFA {
			action = "cancel"
		}
		q, body, status, err = p.do(ctx, "POST", page.String(), url.Values{"req": {html.UnescapeString(m[1])}, "action": {action}})
		if err != nil || q != nil {
			return q, err
		}
	}
	return nil, pageError(status, body)
}

func (p *Person) do(ctx context.Context, method, u string, form url.Values) (url.Values, string, int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return nil, "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			return nil, "", resp.StatusCode, err
		}
		if loc.Fragment != "" && loc.RawQuery == "" {
			q, _ := url.ParseQuery(loc.Fragment)
			return q, "", resp.StatusCode, nil
		}
		return loc.Query(), "", resp.StatusCode, nil
	}
	return nil, string(b), resp.StatusCode, nil
}

func pageError(status int, body string) error {
	if m := personError.FindStringSubmatch(body); m != nil {
		return &PageError{Status: status, Message: strings.TrimSpace(html.UnescapeString(personTags.ReplaceAllString(m[1], "")))}
	}
	if body == "" {
		return &PageError{Status: status, Message: "empty page"}
	}
	return &PageError{Status: status, Message: "no error shown on the page"}
}

// IsPageError reports whether err is a sign-in that stopped on a page, and
// returns that page's message.
func IsPageError(err error) (string, bool) {
	var pe *PageError
	if errors.As(err, &pe) {
		return pe.Message, true
	}
	return "", false
}
