package graphsim

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParsePresenceResourceReadsEveryDocumentedSpelling(t *testing.T) {
	a, b := uuid.MustParse("fa8bf3dc-eca7-46b7-bad1-db199b62afc3"), uuid.MustParse("66825e03-7ef5-42da-9069-4e53c1ae6bb2")
	cases := []struct {
		in   string
		ids  []uuid.UUID
		bulk bool
	}{
		{"communications/presences/" + a.String(), []uuid.UUID{a}, false},
		{"/communications/presences/" + a.String(), []uuid.UUID{a}, false},
		{"/Communications/Presences/" + strings.ToUpper(a.String()), []uuid.UUID{a}, false},
		{"communications/presences('" + a.String() + "')", []uuid.UUID{a}, false},
		{"/communications/presences?$filter=id in ('" + a.String() + "', '" + b.String() + "')", []uuid.UUID{a, b}, true},
		{"/communications/presences?$filter=id in (" + a.String() + "," + b.String() + ")", []uuid.UUID{a, b}, true},
		{"communications/presences?$filter=id+in+(%27" + a.String() + "%27)", []uuid.UUID{a}, true},
		{"/communications/presences?%24filter=id%20in%20(%27" + a.String() + "%27)", []uuid.UUID{a}, true},
		{"/communications/presences?$filter=ID IN('" + a.String() + "','" + a.String() + "')", []uuid.UUID{a}, true},
	}
	for _, c := range cases {
		got, err := parsePresenceResource(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got.Bulk != c.bulk || len(got.IDs) != len(c.ids) {
			t.Errorf("%q: got %+v", c.in, got)
			continue
		}
		for i := range c.ids {
			if got.IDs[i] != c.ids[i] {
				t.Errorf("%q: id %d = %s", c.in, i, got.IDs[i])
			}
		}
	}
}

func TestParsePresenceResourceRejectsWhatGraphRejects(t *testing.T) {
	id := uuid.NewString()
	for _, in := range []string{
		"", "/communications/presences", "communications/presences/not-a-guid",
		"/communications/presences?$filter=id in ()", "/communications/presences?$filter=id eq '" + id + "'",
		"/communications/presences?$filter=id in ('" + id + "')&$select=availability",
		"/communications/presences?$filter=id in ('{" + id + "}')", "/communications/presences?$filter=id in ('" + id + "'",
		"/communications/presences?$filter=id in ('" + id + "%zz')", "/me/presence", "/users",
	} {
		if got, err := parsePresenceResource(in); err == nil {
			t.Errorf("%q was accepted: %+v", in, got)
		}
	}
}

// sameAs, which the duplicate check uses, agrees with comparing canonical
// forms, which it replaced.
func TestSameAsIsEqualCanonicalForms(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	resources := []presenceResource{
		{IDs: []uuid.UUID{a}}, {IDs: []uuid.UUID{b}}, {IDs: []uuid.UUID{a}, Bulk: true}, {IDs: []uuid.UUID{a, b}, Bulk: true},
		{IDs: []uuid.UUID{b, a}, Bulk: true}, {IDs: []uuid.UUID{a, b, a}, Bulk: true},
	}
	for _, p := range resources {
		for _, q := range resources {
			if want := strings.EqualFold(p.canonical(), q.canonical()); p.sameAs(q) != want {
				t.Errorf("%s and %s: sameAs %v, canonical forms equal %v", p.canonical(), q.canonical(), !want, want)
			}
		}
	}
}

// Any resource string gets an answer, never a panic, and an accepted one
// names at least one id and reads the same again in its canonical form
// (go test -fuzz=FuzzPresenceResource).
func FuzzPresenceResource(f *testing.F) {
	id := "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"
	for _, s := range []string{
		"communications/presences/" + id,
		"/communications/presences?$filter=id in ('" + id + "', '" + id + "')",
		"communications/presences?$filter=id+in+(%27" + id + "%27)",
		"/communications/presences?$filter=id in(" + id + ")",
		"communications/presences('" + id + "')",
		"/communications/presences?$filter=", "%", "+", "communications/presences?", "communications/presences/'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := parsePresenceResource(in)
		if err != nil {
			return
		}
		if len(res.IDs) == 0 {
			t.Fatalf("%q accepted with no ids", in)
		}
		again, err := parsePresenceResource(res.canonical())
		if err != nil || len(again.IDs) != len(res.IDs) || again.Bulk != res.Bulk {
			t.Fatalf("canonical form %q of %q does not read back: %v %+v", res.canonical(), in, err, again)
		}
		for _, u := range res.IDs {
			if _, err := parsePresenceResource(res.notificationResource(u)); err != nil {
				t.Fatalf("notification resource %q does not parse: %v", res.notificationResource(u), err)
			}
		}
	})
}
