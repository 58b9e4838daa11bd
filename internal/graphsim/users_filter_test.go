package graphsim

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestFilterParserPrecedenceAndQuotes(t *testing.T) {
	u := &User{ID: uuid.New(), UPN: "o'brien@contoso.example", Mail: "o'brien@contoso.example", DisplayName: "Pat O'Brien", Enabled: true}
	cases := []struct {
		filter string
		want   bool
	}{
		{"userPrincipalName eq 'o''brien@contoso.example'", true},
		{"displayName eq 'pat o''brien'", true}, // the directory compares case-insensitively
		{"accountEnabled eq false or displayName eq 'x' and mail eq 'y'", false},
		{"accountEnabled eq true or displayName eq 'x' and mail eq 'y'", true}, // and binds tighter than or
		{"(accountEnabled eq true or displayName eq 'x') and mail eq 'y'", false},
		{"id in ('" + u.ID.String() + "')", true},
		{"ID EQ '" + strings.ToUpper(u.ID.String()) + "'", true},
		{"startswith(displayName,'PAT')", true},
		{"mail eq null", false},
		{"givenName eq 'Pat'", true}, // graphsim derives given name and surname from a two-word display name
	}
	for _, c := range cases {
		n, err := parseFilter(c.filter, userFilterSchema, false)
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if got := n.match(userGetter(u)); got != c.want {
			t.Fatalf("%s matched %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestFilterParserRefusesDeepNesting(t *testing.T) {
	deep := strings.Repeat("(", 40) + "accountEnabled eq true" + strings.Repeat(")", 40)
	if _, err := parseFilter(deep, userFilterSchema, true); err == nil {
		t.Fatal("40 levels of parentheses were accepted")
	}
	if _, err := parseFilter(strings.Repeat("a", maxFilterLen+1), userFilterSchema, true); err == nil {
		t.Fatal("an over-long filter was accepted")
	}
}

// The $filter parser never panics, answers only Graph's codes, and stays
// fast on any input (go test -fuzz=FuzzUserFilter).
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{
		"userPrincipalName eq 'a@b.example'",
		"id in ('1','2','3')",
		"startswith(displayName,'Ad') and accountEnabled eq true",
		"not (mail eq 'x') or endswith(mail,'.example')",
		"((((id eq 'x'))))",
		"displayName eq 'it''s'",
		"accountEnabled eq 'true'",
		"id eq",
		"'unterminated",
		"startswith(",
		"a eq b eq c",
		"",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	u := &User{ID: uuid.New(), UPN: "adele@contoso.example", Mail: "adele@contoso.example", DisplayName: "Adele Vance", Enabled: true}
	f.Fuzz(func(t *testing.T, filter string, advanced bool) {
		start := time.Now()
		n, err := parseFilter(filter, userFilterSchema, advanced)
		if err != nil {
			fe, ok := err.(*filterError)
			if !ok || fe.status != 400 || (fe.code != "BadRequest" && fe.code != "Request_UnsupportedQuery") || fe.message == "" {
				t.Fatalf("%q: unexpected error %#v", filter, err)
			}
			return
		}
		if n == nil {
			t.Fatalf("%q: no error and no filter", filter)
		}
		n.match(userGetter(u))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%q took %v", filter, d)
		}
	})
}
