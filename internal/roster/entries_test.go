package roster

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCSVFindsColumnsByHeaderInAnyOrder(t *testing.T) {
	cases := []struct {
		name, csv string
		want      []Entry
	}{
		{"upn and telephony_id", "upn,telephony_id\na@contoso.example,100\nb@contoso.example,\n",
			[]Entry{{"a@contoso.example", "100"}, {"b@contoso.example", ""}}},
		{"email, other columns, external id first", "\ufeffExternal ID;Name;E-mail\n7;Ann;a@contoso.example\n",
			[]Entry{{"a@contoso.example", "7"}}},
		{"user column only, blank lines", "User\n\n a@contoso.example \n\n", []Entry{{"a@contoso.example", ""}}},
		{"no header", "a@contoso.example,42\nb@contoso.example\n", []Entry{{"a@contoso.example", "42"}, {"b@contoso.example", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCSV(strings.NewReader(c.csv))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestParseCSVReportsEveryBadLineAndReturnsNothing(t *testing.T) {
	in := "upn,telephony_id\n" + // line 1
		"a@contoso.example,1\n" + // 2: fine
		"not-an-address,2\n" + // 3
		"b@contoso.example,3\n" + // 4: fine
		"A@CONTOSO.EXAMPLE,4\n" + // 5: a again
		"c d@contoso.example,5\n" + // 6
		"e@nodomain,6\n" // 7
	got, err := ParseCSV(strings.NewReader(in))
	var ee *EntriesError
	if !errors.As(err, &ee) || got != nil {
		t.Fatalf("got %v, %v; want an *EntriesError and no entries", got, err)
	}
	lines := []int{}
	for _, p := range ee.Problems {
		lines = append(lines, p.Line)
	}
	if len(lines) != 4 || lines[0] != 3 || lines[1] != 5 || lines[2] != 6 || lines[3] != 7 {
		t.Fatalf("problems on lines %v, want [3 5 6 7]: %v", lines, err)
	}
	if !strings.Contains(err.Error(), "line 5: A@CONTOSO.EXAMPLE is already on line 2") {
		t.Errorf("message: %v", err)
	}
}

func TestParseCSVRefusesAHeaderWithoutAUserColumn(t *testing.T) {
	_, err := ParseCSV(strings.NewReader("name,phone\nAnn,1\n"))
	var ee *EntriesError
	if !errors.As(err, &ee) || ee.Problems[0].Line != 1 || !strings.Contains(err.Error(), "no user column") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ParseCSV(strings.NewReader("upn\n")); err == nil {
		t.Error("a file without users was accepted")
	}
}

func TestEntriesChecksAListByPosition(t *testing.T) {
	got, err := Entries([]Entry{{UPN: " a@contoso.example ", TelephonyID: " 9 "}})
	if err != nil || got[0] != (Entry{"a@contoso.example", "9"}) {
		t.Fatalf("%+v, %v", got, err)
	}
	_, err = Entries([]Entry{{UPN: "a@contoso.example"}, {UPN: ""}, {UPN: "x@y.example", TelephonyID: strings.Repeat("9", 300)}})
	var ee *EntriesError
	if !errors.As(err, &ee) || len(ee.Problems) != 2 || ee.Problems[0].Line != 2 || ee.Problems[1].Line != 3 {
		t.Fatalf("err = %v", err)
	}
}

// A list typed or pasted on a form mixes separators (a spreadsheet pastes
// tabs) and may keep a header row.
func TestParseListAcceptsMixedSeparatorsAndAHeader(t *testing.T) {
	got, err := ParseList("upn,telephony id\r\nadele@contoso.com; 1001\n\nalex@contoso.com\t1002\n")
	if err != nil || len(got) != 2 || got[0] != (Entry{"adele@contoso.com", "1001"}) || got[1] != (Entry{"alex@contoso.com", "1002"}) {
		t.Fatalf("ParseList = %+v, %v", got, err)
	}
	for in, want := range map[string]string{
		"":                      "no users",
		"a@b.c\nA@B.C":          "line 2: A@B.C is already on line 1",
		"a@b.c\n\"unterminated": "line 2: not valid CSV",
		"a@b.c\nbob":            `line 2: "bob" is not a UPN`,
	} {
		if _, err := ParseList(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseList(%q) = %v, want %q", in, err, want)
		}
	}
}
