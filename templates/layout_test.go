package templates

import (
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"

	"presencebridge/static"
)

func render(t *testing.T, ctx context.Context, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLayoutWrapsChildrenWithVersionedAssetsAndFooterVersion(t *testing.T) {
	child := templ.Raw(`<p id="child">content</p>`)
	ctx := templ.WithChildren(WithVersion(context.Background(), "v1.2.3"), child)
	html := render(t, ctx, Layout("Consent <granted>"))
	for _, want := range []string{
		`<meta charset="utf-8">`,
		`<meta name="viewport"`,
		`<title>Consent &lt;granted&gt; · Presence Bridge</title>`,
		`href="` + static.Path("css/app.css") + `"`,
		`<p id="child">content</p>`,
		"Presence Bridge v1.2.3",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("layout lacks %s:\n%s", want, html)
		}
	}
}

// The Content-Security-Policy forbids inline scripts and styles: a page
// that used them would render unstyled or broken in browsers.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	ctx := WithVersion(context.Background(), "dev")
	for name, c := range map[string]templ.Component{"Home": Home(), "NotFound": NotFound()} {
		html := strings.ToLower(render(t, ctx, c))
		for _, banned := range []string{"<script", "<style", " style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(html, banned) {
				t.Errorf("%s contains %q", name, banned)
			}
		}
	}
}
