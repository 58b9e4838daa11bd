package tenantui_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

// onUsersPage is the portal with upns on the roster and its admin signed
// in, on the Users page.
func onUsersPage(t *testing.T, upns ...string) (*portaltest.Portal, *portaltest.Browser) {
	t.Helper()
	p := portaltest.New(t)
	if len(upns) > 0 {
		importUsers(t, p, upns...)
	}
	b := p.Browser()
	b.SignIn()
	b.Get("/portal/users/")
	return p, b
}

// uploadCSV sends csv as the Users page's upload form does: multipart,
// the token, the file.
func uploadCSV(b *portaltest.Browser, csv string) portaltest.Page {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", b.CSRF)
	f, _ := w.CreateFormFile("csv", "roster.csv")
	f.Write([]byte(csv))
	w.Close()
	return b.Do("POST", "/portal"+tenantui.CSVUploadPath, w.FormDataContentType(), &body)
}

// rosterCSV is a roster file with a header and at least lines users, made
// longer (more users) until it holds at least size bytes.
func rosterCSV(lines, size int) string {
	var csv strings.Builder
	csv.WriteString("upn,telephonyId\n")
	for i := 0; i < lines || csv.Len() < size; i++ {
		fmt.Fprintf(&csv, "user%07d@contoso.example,+1555%07d\n", i, i)
	}
	return csv.String()
}

func TestARosterCSVOf100000UsersIsUploadedThroughThePortalAndTheRosterHoldsThemAll(t *testing.T) {
	p, b := onUsersPage(t, "old@contoso.example")
	csv := rosterCSV(100_000, 0)
	if len(csv) <= 1<<20 {
		t.Fatalf("the file is %d bytes: not over the portal's 1 MB for other forms, so it proves nothing", len(csv))
	}
	pg := uploadCSV(b, csv)
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("a %d-byte CSV of 100,000 users: %d\n%s", len(csv), pg.Status, pg.Text())
	}
	wantText(t, b.Get(pg.Location), 200, "The roster is the CSV file now.", "100000 users added, 1 user removed")
	c, err := p.Store.UserCountsOf(t.Context(), p.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 100_000 {
		t.Errorf("the roster holds %d users after a CSV of 100,000", c.Total)
	}
}

func TestARosterCSVOverItsLimitShowsTheUsersPageSayingSoAndChangesNothing(t *testing.T) {
	p, b := onUsersPage(t, "old@contoso.example")
	for i, c := range []struct {
		name string
		size int
	}{
		// Caught by the handler: the body is within the upload's limit,
		// the file is not.
		{"a file over the limit", tenantui.MaxCSVUploadBody - 32<<10},
		// Caught before any handler, by the portal's limit on the body.
		{"a body over the upload's limit", tenantui.MaxCSVUploadBody + 1<<20},
	} {
		if i > 0 {
			b.Get("/portal/users/")
		}
		pg := uploadCSV(b, rosterCSV(0, c.size))
		wantText(t, pg, http.StatusRequestEntityTooLarge, "Replace the roster with a CSV file",
			"The file is larger than 20 MB, the most an upload takes, so the roster was not changed.")
		if strings.Contains(pg.Text(), "expired") {
			t.Errorf("%s is refused as an expired form:\n%s", c.name, pg.Text())
		}
		if rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false); len(rows) != 1 || rows[0].UPN != "old@contoso.example" {
			t.Errorf("%s changed the roster: %d users", c.name, len(rows))
		}
	}
	if actors := auditActors(t, p.Store, p.Tenant.ID, "roster.replaced"); len(actors) != 0 {
		t.Errorf("refused uploads audited as roster replacements by %v", actors)
	}
}

func TestThePortalsOtherFormsAreStillRefusedOverOneMB(t *testing.T) {
	p, b := onUsersPage(t)
	users := rosterCSV(0, 1<<20+(64<<10))
	pg := b.Post("/portal/users/add", url.Values{"users": {users}})
	wantText(t, pg, http.StatusRequestEntityTooLarge, "This page takes forms of at most 1 MB, so nothing was changed.")
	if rows, _ := p.Store.DirectoryUsers(t.Context(), p.Tenant.ID, false); len(rows) != 0 {
		t.Errorf("a form over 1 MB added %d users", len(rows))
	}
}
