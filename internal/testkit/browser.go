package testkit

import (
	"context"
	"os"
	"os/exec"
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
