package testkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium for the test and returns a chromedp
// context driving one tab of it. Both end with the test. A missing Chromium
// fails the test (make test installs it): page tests never silently skip.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("PB_TEST_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("testkit: no Chromium found for page tests: run `make test` (it installs it) or apt-get install chromium")
	}
	// The network here is closed: without these flags Chromium keeps trying
	// to reach Google's update and sync services.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // we run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now, to fail early
		t.Fatalf("testkit: start Chromium (%s): %v", path, err)
	}
	return ctx
}

// Run runs browser steps, failing the test with the page's address and
// text when one fails.
func Run(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("browser at %s: %v\n%s", loc, err, body)
	}
}

// Value is the value of the input sel.
func Value(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(sel))
	if err != nil {
		t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// Text is the text of the first element sel, trimmed.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// Screenshots writes full-page PNGs of a browser test's steps, at 1280 and
// 375 px, to $PB_ARTIFACTS/<folder> (default .artifacts/screenshots at the
// module root), and fails a page that scrolls sideways.
type Screenshots struct {
	t   testing.TB
	dir string
}

// NewScreenshots keeps a test's screenshots in folder.
func NewScreenshots(t testing.TB, folder string) *Screenshots {
	t.Helper()
	dir := os.Getenv("PB_ARTIFACTS")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".artifacts", "screenshots")
	}
	dir = filepath.Join(dir, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Screenshots{t: t, dir: dir}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Take captures the page at both widths as name, then leaves the
// viewport at 1280 px.
func (s *Screenshots) Take(ctx context.Context, name string) {
	s.t.Helper()
	for _, width := range []int64{1280, 375} {
		Run(s.t, ctx, chromedp.EmulateViewport(width, 800))
		// Measured after the next frame, once layout follows the new width.
		scroll, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`new Promise(done => requestAnimationFrame(() =>
			done(Math.max(document.documentElement.scrollWidth, document.body.scrollWidth))))`, chromedp.EvalAwaitPromise))
		if err != nil {
			s.t.Fatal(err)
		}
		if scroll > width {
			s.t.Errorf("%s at %d px: the page is %d px wide and scrolls sideways", name, width, scroll)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			s.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%s-%dpx.png", name, width)), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	Run(s.t, ctx, chromedp.EmulateViewport(1280, 800))
}
