package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/testkit"
	"presencebridge/web"
)

// The reference at /api/v1/docs shows every operation the OpenAPI document
// describes, styled, under the product's Content-Security-Policy, in a
// real browser, loading nothing from elsewhere.
func TestTheReferencePageShowsEveryDescribedOperationInABrowser(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(web.New(web.Deps{Production: true, Mount: func(r chi.Router) {
		r.Route("/api/v1", Routes(Deps{Store: f.st, Keys: f.keys, Subscribe: func(uuid.UUID) (<-chan struct{}, func()) { return nil, func() {} }}))
	}}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	var ids []string
	for _, item := range doc.Paths {
		for _, op := range item {
			ids = append(ids, op.OperationID)
		}
	}
	if len(ids) < 10 {
		t.Fatalf("only %d operations described", len(ids))
	}

	ctx := testkit.Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/api/v1/docs")); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("section.api-operation")].map(s => s.id)`))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, id := range shown {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			t.Errorf("operation %s is described but not shown", id)
		}
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).backgroundColor`))
	if err != nil || bg != "rgb(245, 247, 250)" {
		t.Errorf("page background = %q (%v): the stylesheet did not apply", bg, err)
	}
	external, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`[...document.querySelectorAll("script[src], link[href], img[src]")].filter(e => new URL(e.src || e.href).origin !== location.origin).length`))
	if err != nil || external != 0 {
		t.Errorf("%d resources from elsewhere (%v)", external, err)
	}
	scope, err := chromedp.Run(ctx, chromedp.Text(`#create-api-key`))
	if err != nil || !strings.Contains(scope, "Scope: admin") || !strings.Contains(scope, "Idempotency-Key") {
		t.Errorf("create-api-key section = %q (%v), want its scope and the Idempotency-Key header", scope, err)
	}
}
