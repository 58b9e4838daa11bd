package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// get sends GET to an absolute URL (a nextLink, verbatim) or a path at the
// Sim, with extra headers.
func (f *fixture) get(token, target string, headers ...string) graphResponse {
	f.t.Helper()
	return f.send(token, http.MethodGet, target, nil, headers...)
}

func (f *fixture) send(token, method, target string, body []byte, headers ...string) graphResponse {
	f.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = f.srv.URL + target
	}
	req, err := http.NewRequestWithContext(ctx(f.t), method, target, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return graphResponse{resp.StatusCode, resp.Header, b}
}

// page is a collection page as the tests read it.
type page struct {
	Context   string           `json:"@odata.context"`
	Count     *int             `json:"@odata.count"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
	Value     []map[string]any `json:"value"`
}

func (f *fixture) page(token, target string, headers ...string) page {
	f.t.Helper()
	res := f.get(token, target, headers...)
	if res.status != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", target, res.status, res.body)
	}
	var p page
	res.json(f.t, &p)
	return p
}

// followAll reads a collection through its nextLinks, which must be
// absolute URLs at the Sim, and returns every item and the final page.
func (f *fixture) followAll(token, target string, headers ...string) ([]map[string]any, page, int) {
	f.t.Helper()
	var items []map[string]any
	pages := 0
	for {
		p := f.page(token, target, headers...)
		pages++
		items = append(items, p.Value...)
		if p.NextLink == "" {
			return items, p, pages
		}
		if !strings.HasPrefix(p.NextLink, f.srv.URL+"/v1.0/") {
			f.t.Fatalf("nextLink %q is not an absolute URL at the Sim %s", p.NextLink, f.srv.URL)
		}
		if pages > 100 {
			f.t.Fatal("more than 100 pages: the nextLinks loop")
		}
		target = p.NextLink
	}
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		id, _ := it["id"].(string)
		out = append(out, id)
	}
	return out
}

// wantGraphError checks status, code and (when given) a message fragment.
func wantGraphError(t *testing.T, res graphResponse, status int, code, msg string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.body)
	}
	e := res.graphErr(t)
	if e.Code != code {
		t.Fatalf("code %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if msg != "" && !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
}

// ctl calls the control API with a JSON body.
func (f *fixture) ctl(method, path string, body any) (int, []byte) {
	f.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			f.t.Fatal(err)
		}
	}
	res := f.send("", method, "/_sim"+path, b, "Content-Type", "application/json")
	return res.status, res.body
}

// allUsers are tenant's accounts: people, monitors and the admin.
func allUsers(t SeedTenant) []SeedUser {
	out := append([]SeedUser{}, t.Users...)
	out = append(out, t.Monitors...)
	return append(out, t.Admin)
}

func q(s string) string { return url.QueryEscape(s) }
