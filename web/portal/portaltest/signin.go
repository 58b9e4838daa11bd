package portaltest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/graphsim"
)

// SignInAs signs who in through graphsim's sign-in page; the test fails
// unless they land on the portal's Home. The last page's CSRF token is
// Home's.
func (b *Browser) SignInAs(who graphsim.SeedUser) {
	b.p.T.Helper()
	pg := b.Get("/portal/signin")
	if pg.Status != http.StatusSeeOther {
		b.p.T.Fatalf("sign-in start: %d %s", pg.Status, pg.Location)
	}
	q, err := graphsim.NewPerson().SignIn(context.Background(), pg.Location, who.UPN, who.Password)
	if err != nil {
		b.p.T.Fatalf("at Microsoft: %v", err)
	}
	if pg := b.Get("/portal/callback?" + q.Encode()); pg.Status != http.StatusSeeOther || pg.Location != "/portal" {
		b.p.T.Fatalf("sign-in of %s: %d %s\n%s", who.UPN, pg.Status, pg.Location, pg.Body)
	}
	b.Get("/portal")
}

// SignInBrowser signs who in to the portal in headless Chromium, through
// graphsim's page, and waits for Home.
func (p *Portal) SignInBrowser(ctx context.Context, who graphsim.SeedUser) error {
	return chromedp.Do(ctx, chromedp.Navigate(p.Base+"/portal"), chromedp.WaitVisible("#sign-in"),
		chromedp.Click("#sign-in"), chromedp.WaitVisible("#login"),
		chromedp.SetValue("#login", who.UPN), chromedp.SetValue("#password", who.Password),
		chromedp.Click("#submit"), chromedp.WaitVisible("#signed-in-as"))
}

// WantPage fails the test unless pg has status and every text (tags
// removed, entities decoded, white space collapsed as a browser shows it).
func WantPage(t testing.TB, pg Page, status int, texts ...string) {
	t.Helper()
	if pg.Status != status {
		t.Errorf("status %d, want %d", pg.Status, status)
	}
	text := strings.Join(strings.Fields(pg.Text()), " ")
	for _, s := range texts {
		if !strings.Contains(text, s) {
			t.Errorf("page lacks %q:\n%s", s, pg.Body)
		}
	}
}
