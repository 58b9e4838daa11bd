package store_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func ring(t *testing.T, active string, ids ...string) *seal.Ring {
	t.Helper()
	var lines []string
	for _, id := range ids {
		// Deterministic keys per id, so two rings can share a key.
		k := bytes.Repeat([]byte(id[len(id)-1:]), 32)
		lines = append(lines, id+":"+base64.StdEncoding.EncodeToString(k))
	}
	r, err := seal.LoadRing(strings.Join(lines, "\n"), active)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSecretRoundTripAndReplace(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	s := store.New(pool, ring(t, "", "k1"))
	tenant := storetest.Tenant(t, pool, "Contoso")

	id, err := s.PutSecret(ctx, &tenant, store.PurposeRefreshToken, []byte("rt-1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenSecret(ctx, &tenant, id, store.PurposeRefreshToken)
	if err != nil || string(got) != "rt-1" {
		t.Fatalf("OpenSecret = %q, %v; want rt-1", got, err)
	}
	if err := s.ReplaceSecret(ctx, id, []byte("rt-2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.OpenSecret(ctx, &tenant, id, store.PurposeRefreshToken); string(got) != "rt-2" {
		t.Fatalf("after replace: %q, want rt-2", got)
	}
	if _, err := s.OpenSecret(ctx, &tenant, id, store.PurposeSigningSecret); err == nil {
		t.Fatal("a refresh token opened as a webhook signing secret")
	}
	if _, err := s.OpenSecret(ctx, &tenant, uuid.New(), store.PurposeRefreshToken); !errors.Is(err, store.ErrSecretNotFound) {
		t.Fatalf("unknown id: %v, want ErrSecretNotFound", err)
	}
}

// TestSecretMovedToAnotherRowFailsToOpen: the AAD binds a ciphertext to its
// row, so copying one tenant's sealed token onto another row yields nothing.
func TestSecretMovedToAnotherRowFailsToOpen(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	s := store.New(pool, ring(t, "", "k1"))
	a, b := storetest.Tenant(t, pool, "Contoso"), storetest.Tenant(t, pool, "Contoso")
	idA, _ := s.PutSecret(ctx, &a, store.PurposeRefreshToken, []byte("tenant-a-token"))
	idB, _ := s.PutSecret(ctx, &b, store.PurposeRefreshToken, []byte("tenant-b-token"))
	if _, err := pool.Exec(ctx, `UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE id = $1) WHERE id = $2`, idA, idB); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenSecret(ctx, &b, idB, store.PurposeRefreshToken); err == nil {
		t.Fatalf("tenant A's ciphertext opened on tenant B's row as %q", got)
	}
}

func TestRotationResealsAllRowsAndOldRowsStayReadable(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	tenant := storetest.Tenant(t, pool, "Contoso")
	old := store.New(pool, ring(t, "", "k1"))
	plain := map[uuid.UUID]string{}
	for i := range 1203 {
		v := fmt.Sprintf("refresh-token-%04d", i)
		id, err := old.PutSecret(ctx, &tenant, store.PurposeRefreshToken, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		plain[id] = v
	}

	// The new ring holds both keys, k2 active: rows under k1 stay readable.
	s := store.New(pool, ring(t, "k2", "k1", "k2"))
	for id, v := range plain {
		if got, err := s.OpenSecret(ctx, &tenant, id, store.PurposeRefreshToken); err != nil || string(got) != v {
			t.Fatalf("k1 row before rotation: %q, %v", got, err)
		}
		break
	}
	// A first, interrupted run: one batch only.
	if n, err := s.RotateSecrets(ctx, 500); err != nil || n != 500 {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	byKey, _ := s.SecretsByKey(ctx)
	if byKey["k1"] != 703 || byKey["k2"] != 500 {
		t.Fatalf("after one batch: %v", byKey)
	}
	// Resume until done, then once more: idempotent.
	total := 500
	for {
		n, err := s.RotateSecrets(ctx, 500)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != len(plain) {
		t.Fatalf("re-sealed %d rows in all, want %d", total, len(plain))
	}
	byKey, _ = s.SecretsByKey(ctx)
	if len(byKey) != 1 || byKey["k2"] != len(plain) {
		t.Fatalf("after rotation: %v, want all under k2", byKey)
	}
	// Every row reads back under a ring that no longer has k1.
	only2 := store.New(pool, ring(t, "", "k2"))
	for id, v := range plain {
		if got, err := only2.OpenSecret(ctx, &tenant, id, store.PurposeRefreshToken); err != nil || string(got) != v {
			t.Fatalf("row %s after rotation: %q, %v; want %q", id, got, err, v)
		}
	}
}

func TestRotationStopsOnAKeyMissingFromTheRing(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	old := store.New(pool, ring(t, "", "k1"))
	if _, err := old.PutSecret(ctx, nil, store.PurposeClientSecret, []byte("s")); err != nil {
		t.Fatal(err)
	}
	s := store.New(pool, ring(t, "", "k2"))
	_, err := s.RotateSecrets(ctx, 10)
	if err == nil || !strings.Contains(err.Error(), `key "k1", which is not in the key ring`) {
		t.Fatalf("err = %v; want one naming the missing key", err)
	}
}

// TestNoPlaintextSecretInTheDatabase looks for the secret in every column of
// every table, as text, hex and base64.
func TestNoPlaintextSecretInTheDatabase(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	s := store.New(pool, ring(t, "", "k1"))
	tenant := storetest.Tenant(t, pool, "Contoso")
	secret := "0.AXoA-very-secret-refresh-token-" + uuid.NewString()
	for _, p := range []string{store.PurposeRefreshToken, store.PurposeClientSecret, store.PurposeSigningSecret} {
		if _, err := s.PutSecret(ctx, &tenant, p, []byte(secret)); err != nil {
			t.Fatal(err)
		}
	}
	storetest.RequireNotStored(t, pool, secret)
}

func TestASecretOpensOnlyForTheTenantItBelongsTo(t *testing.T) {
	ctx := t.Context()
	pool := testkit.DB(t)
	s := store.New(pool, ring(t, "", "k1"))
	a, b := storetest.Tenant(t, pool, "Contoso"), storetest.Tenant(t, pool, "Fabrikam")
	idA, _ := s.PutSecret(ctx, &a, store.PurposeSigningSecret, []byte("whsec_a"))
	global, _ := s.PutSecret(ctx, nil, store.PurposeSigningSecret, []byte("whsec_g"))
	if got, err := s.OpenSecret(ctx, &a, idA, store.PurposeSigningSecret); err != nil || string(got) != "whsec_a" {
		t.Fatalf("tenant A's own secret: %q, %v", got, err)
	}
	// A row of tenant B pointing at tenant A's secret opens nothing.
	for name, owner := range map[string]*uuid.UUID{"tenant B": &b, "no tenant": nil} {
		if got, err := s.OpenSecret(ctx, owner, idA, store.PurposeSigningSecret); !errors.Is(err, store.ErrSecretOfAnother) {
			t.Errorf("%s opening tenant A's secret: %q, %v", name, got, err)
		}
	}
	if got, err := s.OpenSecret(ctx, &a, global, store.PurposeSigningSecret); !errors.Is(err, store.ErrSecretOfAnother) {
		t.Errorf("tenant A opening a secret of no tenant: %q, %v", got, err)
	}
}
