package storetest

import (
	"fmt"
	"testing"

	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// recorder notes failures instead of failing, to test a checker.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func TestRequireNotStoredFindsASecretInAnyForm(t *testing.T) {
	pool := testkit.DB(t)
	ctx := t.Context()
	secret := "secret-value-42"
	for i, insert := range []string{
		`INSERT INTO tenants (name) VALUES ($1)`,                                                 // text
		`INSERT INTO sessions (token, data, expiry) VALUES ('t', convert_to($1, 'UTF8'), now())`, // bytea (hex)
		`INSERT INTO tenants (name) VALUES (encode(convert_to($1, 'UTF8'), 'base64'))`,           // base64
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := pool.Exec(ctx, `TRUNCATE tenants, sessions CASCADE`); err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			RequireNotStored(r, pool, secret)
			if r.failed {
				t.Fatal("reported a secret in an empty database")
			}
			if _, err := pool.Exec(ctx, insert, secret); err != nil {
				t.Fatal(err)
			}
			RequireNotStored(r, pool, secret)
			if !r.failed {
				t.Fatalf("missed the secret stored by %s", insert)
			}
		})
	}
}
