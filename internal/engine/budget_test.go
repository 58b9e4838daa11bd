package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"presencebridge/internal/graph/graphapi"
)

type countingReader struct{ calls int }

func (c *countingReader) GetPresences(_ context.Context, ids []string) ([]graphapi.Presence, error) {
	c.calls++
	return nil, nil
}

func (c *countingReader) GetPresence(context.Context, string) (graphapi.Presence, error) {
	c.calls++
	return graphapi.Presence{}, nil
}

func TestBudgetKeepsEachTenantAndTheAppWithinTheirBuckets(t *testing.T) {
	// 3 calls per tenant, 4 for the app, refilled once a minute.
	b := NewBudget(rate.Every(time.Minute), 3, rate.Every(time.Minute), 4)
	a, c := uuid.New(), uuid.New()
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	ra := &countingReader{}
	readerA := b.Reader(a, ra)
	// 1,300 ids are two getPresencesByUserId calls of the tenant's three.
	if _, err := readerA.GetPresences(short(), make([]string, 1300)); err != nil {
		t.Fatal(err)
	}
	if _, err := readerA.GetPresence(short(), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := readerA.GetPresence(short(), "x"); err == nil {
		t.Fatal("a fourth call within the minute went through the tenant's budget of three")
	}
	if ra.calls != 2 {
		t.Errorf("calls reaching Graph = %d, want 2", ra.calls)
	}
	// Another tenant has its own bucket but shares the app's: one left.
	rc := &countingReader{}
	readerC := b.Reader(c, rc)
	if _, err := readerC.GetPresence(short(), "x"); err != nil {
		t.Fatalf("another tenant's first call: %v", err)
	}
	if _, err := readerC.GetPresence(short(), "x"); err == nil {
		t.Fatal("the app's budget of four was exceeded")
	}
}
