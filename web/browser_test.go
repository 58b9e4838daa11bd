package web

import (
	"testing"

	"github.com/chromedp/chromedp"

	"presencebridge/internal/testkit"
)

// TestHomePageStyledUnderTheCSP loads the page in a real browser: the strict
// Content-Security-Policy must still let the stylesheet apply, and the
// layout must render its header and footer.
func TestHomePageStyledUnderTheCSP(t *testing.T) {
	srv, _ := newServer(t, Deps{Production: true, Version: "v1.2.3"})
	ctx := testkit.Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(245, 247, 250)" {
		t.Fatalf("page background = %q: the stylesheet did not apply (blocked by the CSP or not served?)", bg)
	}
	brand, err := chromedp.Run(ctx, chromedp.Text(".brand"))
	if err != nil || brand != "Presence Bridge" {
		t.Fatalf("header brand = %q, %v", brand, err)
	}
	footer, err := chromedp.Run(ctx, chromedp.Text(".site-footer"))
	if err != nil || footer != "Presence Bridge v1.2.3" {
		t.Fatalf("footer = %q, %v", footer, err)
	}
}
