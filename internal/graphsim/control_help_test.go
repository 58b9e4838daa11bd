package graphsim

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// GET /_sim/ answers a page listing every control route the router
// serves, each with its method; none is left out.
func TestControlHelpListsEveryControlRoute(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/_sim/", "/_sim"} {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET %s: %d %s, want the help page as text", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		page := string(b)
		served := 0
		err = chi.Walk(f.sim.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			if !strings.HasPrefix(route, "/_sim/") {
				return nil
			}
			served++
			if line := method + strings.Repeat(" ", max(1, 7-len(method))) + route + "\n"; !strings.Contains(page, line) {
				t.Errorf("the help page does not list %s %s", method, route)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if served < 40 {
			t.Fatalf("walked %d control routes, want every one (over 40)", served)
		}
		for _, want := range []string{`body {"availability": "Busy", "activity": "InACall"}`, "revokeSignInSessions"} {
			if !strings.Contains(page, want) {
				t.Errorf("the help page lacks %q:\n%s", want, page)
			}
		}
	}
}

// Each example body on the help page is one its route still takes: sent
// to the route, it is never refused as a bad body (unknown field, wrong
// type), whatever the route then makes of it.
func TestControlHelpBodiesAreAcceptedByTheirRoutes(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant()
	groups := f.sim.Groups(ten.ID)
	if len(groups) == 0 {
		t.Fatal("the fixture's tenant has no group")
	}
	params := strings.NewReplacer("/tenants/{id}", "/tenants/"+ten.ID.String(), "/users/{id}", "/users/"+ten.Users[0].ID.String(),
		"/groups/{id}", "/groups/"+groups[0].ID.String(), "{clientId}", f.seed.App.ClientID, "{class}", "presence")
	checked := 0
	for _, g := range f.sim.controlTable() {
		for _, rt := range g {
			if rt.body == "" {
				continue
			}
			checked++
			req, _ := http.NewRequest(rt.method, f.srv.URL+"/_sim"+params.Replace(rt.path), strings.NewReader(rt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), "bad JSON body") {
				t.Errorf("%s %s refuses its help page's example body: %s", rt.method, rt.path, b)
			}
		}
	}
	for _, c := range f.sim.Churns() {
		f.sim.StopChurn(c.ID)
	}
	if checked < 15 {
		t.Fatalf("checked %d example bodies, want every route's", checked)
	}
}
