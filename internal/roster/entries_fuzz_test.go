package roster

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzRosterImport: a roster file or pasted list that imports holds only
// valid addresses (name@domain.tld, trimmed, no space, no control
// character, valid UTF-8 — what PostgreSQL can store) and telephony ids
// (trimmed, at most 256 characters, no control character, valid UTF-8),
// none twice in any case, one entry per non-blank data row; written out
// again as a CSV it imports as the same entries, and the API's check
// (Entries) takes them unchanged. One that does not import says why in
// at most 200 problems, on lines of the file, in order.
func FuzzRosterImport(f *testing.F) {
	for _, in := range []string{
		"upn,telephony_id\na@contoso.example,100\nb@contoso.example,\n",
		"\ufeffExternal ID;Name;E-mail\n7;Ann;a@contoso.example\n",
		"User\n\n a@contoso.example \n\n",
		"a@contoso.example,42\nb@contoso.example\n",
		"upn,telephony id\r\nadele@contoso.com; 1001\n\nalex@contoso.com\t1002\n",
		"upn\n\"a@contoso.example\nb\",1\n\"unterminated",
		"upn\nA@CONTOSO.EXAMPLE\na@contoso.example\nc d@contoso.example\ne@nodomain\n",
		"upn\na\x00@contoso.example\nb@contoso.example,\x01\n\xff@contoso.example\n",
		"name,phone\nAnn,1\n",
		"",
	} {
		f.Add([]byte(in), false)
		f.Add([]byte(in), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, list bool) {
		text := string(data)
		parse := func(s string) ([]Entry, error) { return ParseCSV(strings.NewReader(s)) }
		if list {
			text = listSeparators.Replace(text)
			parse = ParseList
		}
		entries, err := parse(string(data))
		if err != nil {
			checkProblems(t, err, text)
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if !validAddress(e.UPN) || !validTelephonyID(e.TelephonyID) {
				t.Fatalf("imported %q with telephony id %q", e.UPN, e.TelephonyID)
			}
			if seen[strings.ToLower(e.UPN)] {
				t.Fatalf("imported %q twice", e.UPN)
			}
			seen[strings.ToLower(e.UPN)] = true
		}
		if rows := dataRows(t, text); len(entries) != rows {
			t.Fatalf("imported %d entries from %d data rows", len(entries), rows)
		}
		var out bytes.Buffer
		w := csv.NewWriter(&out)
		w.Write([]string{"upn", "telephony_id"})
		for _, e := range entries {
			w.Write([]string{e.UPN, e.TelephonyID})
		}
		w.Flush()
		again, err := ParseCSV(&out)
		if err != nil || !slices.Equal(again, entries) {
			t.Fatalf("written out and imported again: %q, %v; want %q", again, err, entries)
		}
		if checked, err := Entries(entries); err != nil || !slices.Equal(checked, entries) {
			t.Fatalf("Entries(%q) = %q, %v", entries, checked, err)
		}
	})
}

// checkProblems checks what a refused import says: an *EntriesError (a
// file that cannot be read is no hostile input here) with 1 to 200
// problems, each on a line of text, in order.
func checkProblems(t *testing.T, err error, text string) {
	t.Helper()
	var ee *EntriesError
	if !errors.As(err, &ee) {
		t.Fatalf("refused with %v, not an *EntriesError", err)
	}
	lines := strings.Count(text, "\n") + 1
	if len(ee.Problems) == 0 || len(ee.Problems) > maxProblems {
		t.Fatalf("%d problems", len(ee.Problems))
	}
	for i, p := range ee.Problems {
		if p.Line < 1 || p.Line > lines || i > 0 && p.Line < ee.Problems[i-1].Line || p.Message == "" {
			t.Fatalf("problem %d of %d: line %d of %d: %q", i, len(ee.Problems), p.Line, lines, p.Message)
		}
	}
}

// dataRows counts the non-blank rows after the header of a CSV that
// reads without error, as encoding/csv reads it.
func dataRows(t *testing.T, text string) int {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord, r.TrimLeadingSpace = -1, true
	if first, _, _ := strings.Cut(text, "\n"); strings.Count(first, ";") > strings.Count(first, ",") {
		r.Comma = ';'
	}
	n := 0
	for i := 0; ; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("an imported file does not read as CSV: %v", err)
		}
		if _, _, header := headerColumns(rec); i == 0 && header || allEmpty(rec) {
			continue
		}
		n++
	}
}

// validAddress is name@domain with a dot inside the domain, as stored.
func validAddress(s string) bool {
	local, domain, _ := strings.Cut(s, "@")
	return text(s) && len(s) <= maxUPN && strings.Count(s, "@") == 1 && local != "" &&
		strings.Contains(strings.Trim(domain, "."), ".") && domain == strings.Trim(domain, ".") &&
		strings.IndexFunc(s, unicode.IsSpace) < 0
}

func validTelephonyID(s string) bool { return text(s) && len(s) <= maxTelephonyID }

// text is trimmed, valid UTF-8 without control characters: what
// PostgreSQL stores and a page or a webhook shows as it is.
func text(s string) bool {
	return s == strings.TrimSpace(s) && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}
