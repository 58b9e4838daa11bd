// Package english words counts for people: "1 user", "3 users".
package english

import "strconv"

// Count is n with the singular or plural form: Count(1, "user", "users")
// is "1 user", Count(3, …) "3 users".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
