package roster

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"presencebridge/internal/store"
)

// Entry is a user to monitor as an admin gives it: a UPN or mail address,
// and optionally the telephony platform's own id for the user.
type Entry struct {
	UPN         string
	TelephonyID string
}

// Problem is one bad entry: its line in a CSV (or position in a list,
// from 1) and what is wrong.
type Problem struct {
	Line    int
	Value   string
	Message string
}

// EntriesError lists every bad entry at once, so the admin fixes them all
// in one go; nothing is imported while there is one.
type EntriesError struct {
	Problems []Problem
	csv      bool
}

func (e *EntriesError) Error() string {
	where := "entry"
	if e.csv {
		where = "line"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad %s(s):", len(e.Problems), where)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n%s %d: %s", where, p.Line, p.Message)
	}
	return b.String()
}

// maxProblems bounds the report for a file that is not a roster at all.
const maxProblems = 200

// Limits of what is stored: a UPN is at most 113 characters in Entra (64 +
// @ + 48); mail addresses up to 256 are let through to Graph to judge.
const (
	maxUPN         = 256
	maxTelephonyID = 256
)

// Entries checks a list given through the API or the form: each a UPN or
// address, none twice. It returns the entries trimmed, or an
// *EntriesError naming every bad one by position.
func Entries(in []Entry) ([]Entry, error) {
	c := checker{seen: map[string]int{}}
	for i, e := range in {
		c.add(i+1, e)
	}
	return c.result(false)
}

type checker struct {
	out      []Entry
	problems []Problem
	seen     map[string]int
}

func (c *checker) problem(line int, value, format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, Problem{Line: line, Value: value, Message: fmt.Sprintf(format, args...)})
	}
}

func (c *checker) add(line int, e Entry) {
	e.UPN, e.TelephonyID = strings.TrimSpace(e.UPN), strings.TrimSpace(e.TelephonyID)
	if msg := checkAddress(e.UPN); msg != "" {
		c.problem(line, e.UPN, "%s", msg)
		return
	}
	if len(e.TelephonyID) > maxTelephonyID {
		c.problem(line, e.TelephonyID, "the telephony id is longer than %d characters", maxTelephonyID)
		return
	}
	if !storable(e.TelephonyID) {
		c.problem(line, e.TelephonyID, "the telephony id %q holds a character that is not text", e.TelephonyID)
		return
	}
	key := strings.ToLower(e.UPN)
	if first, dup := c.seen[key]; dup {
		c.problem(line, e.UPN, "%s is already on line %d", e.UPN, first)
		return
	}
	c.seen[key] = line
	c.out = append(c.out, e)
}

func (c *checker) result(csv bool) ([]Entry, error) {
	if len(c.problems) > 0 {
		return nil, &EntriesError{Problems: c.problems, csv: csv}
	}
	return c.out, nil
}

// checkAddress says what is wrong with a UPN or mail address, or "".
func checkAddress(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case s == "":
		return "no UPN or e-mail address"
	case len(s) > maxUPN:
		return fmt.Sprintf("%q is longer than %d characters", s[:40]+"…", maxUPN)
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fmt.Sprintf("%q contains a space", s)
	case !storable(s):
		return fmt.Sprintf("%q holds a character that is not text", s)
	case !ok || local == "" || domain == "" || strings.Contains(domain, "@"):
		return fmt.Sprintf("%q is not a UPN or e-mail address (name@domain)", s)
	case !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, "."):
		return fmt.Sprintf("%q has no valid domain", s)
	}
	return ""
}

// storable says whether s is text PostgreSQL stores (store.Storable) and
// a page shows as it is: no control characters either. A file or a JSON
// body ("\u0000") can hold anything, and refusing it here names the line;
// the database would refuse the whole import with a 5xx.
func storable(s string) bool {
	return store.Storable(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// Column names accepted in a CSV header, compared without case, spaces,
// dashes or underscores.
var (
	userColumns      = []string{"upn", "userprincipalname", "email", "mail", "emailaddress", "user"}
	telephonyColumns = []string{"telephonyid", "externalid", "telephony", "phoneid"}
)

func normColumn(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '_' || r == '\ufeff' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// ParseCSV reads a roster CSV: a header naming the user column (upn,
// email, user…) and optionally the telephony id column (telephony_id,
// external_id…), in any order, other columns ignored; or no header, with
// the address first and the telephony id second. Commas or semicolons
// separate fields. Every bad line is reported at once in an *EntriesError
// and then nothing is returned.
func ParseCSV(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read roster CSV: %w", err)
	}
	cr := csv.NewReader(strings.NewReader(string(data)))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	if first, _, _ := strings.Cut(string(data), "\n"); strings.Count(first, ";") > strings.Count(first, ",") {
		cr.Comma = ';'
	}
	c := checker{seen: map[string]int{}}
	userCol, telCol, header := 0, 1, true
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.problem(pe.Line, "", "not valid CSV: %v", pe.Err)
			if len(c.problems) >= maxProblems {
				break
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read roster CSV: %w", err)
		}
		// FieldPos only after a record was read: it panics after an error.
		line, _ := cr.FieldPos(0)
		if header {
			header = false
			if u, t, ok := headerColumns(rec); ok {
				userCol, telCol = u, t
				continue
			}
			if !strings.Contains(rec[0], "@") {
				c.problem(line, strings.Join(rec, ","), "the header names no user column (upn, email or user)")
				return c.result(true)
			}
		}
		if allEmpty(rec) {
			continue
		}
		e := Entry{}
		if userCol < len(rec) {
			e.UPN = rec[userCol]
		}
		if telCol >= 0 && telCol < len(rec) {
			e.TelephonyID = rec[telCol]
		}
		c.add(line, e)
	}
	if len(c.out) == 0 && len(c.problems) == 0 {
		c.problem(1, "", "the file holds no users")
	}
	return c.result(true)
}

// ParseList reads a list typed or pasted into a form: one user per line,
// "upn" or "upn,telephony id", a header row allowed as in ParseCSV. Commas,
// semicolons and tabs all separate fields, even mixed: a list pasted from a
// spreadsheet holds tabs, one typed by hand whatever the admin chose.
func ParseList(text string) ([]Entry, error) {
	return ParseCSV(strings.NewReader(listSeparators.Replace(text)))
}

var listSeparators = strings.NewReplacer(";", ",", "\t", ",")

// headerColumns finds the user and telephony id columns of a header row
// (telephony -1 when absent).
func headerColumns(rec []string) (user, telephony int, ok bool) {
	user, telephony = -1, -1
	for i, f := range rec {
		name := normColumn(f)
		for _, c := range userColumns {
			if name == c && user < 0 {
				user = i
			}
		}
		for _, c := range telephonyColumns {
			if name == c && telephony < 0 {
				telephony = i
			}
		}
	}
	return user, telephony, user >= 0
}

func allEmpty(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
