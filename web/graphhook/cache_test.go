package graphhook

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// unknownAnswer is a lookup that matched none of n queries.
func unknownAnswer(n int) ([]store.SubscriptionQuery, []store.SubscriptionKey) {
	qs := make([]store.SubscriptionQuery, n)
	for i := range qs {
		qs[i] = store.SubscriptionQuery{GraphID: fmt.Sprint("sub-", i), ClientStateHash: store.ClientStateHash("s")}
	}
	return qs, make([]store.SubscriptionKey, n)
}

func TestUnknownSubscriptionsAreRememberedAtMostTenThousandForTenSecondsAndOnlyWhileChangesAreAnnounced(t *testing.T) {
	c := newSubCache()
	now := time.Now()
	c.now = func() time.Time { return now }
	hash := store.ClientStateHash("s")

	qs, keys := unknownAnswer(3)
	c.learn(c.generation(), qs, keys)
	if c.isUnknown("sub-0", hash) {
		t.Fatal("remembered as unknown while changes are not announced")
	}
	c.trust(true)
	c.learn(c.generation(), qs, keys)
	if !c.isUnknown("sub-0", hash) || c.isUnknown("sub-0", store.ClientStateHash("other")) {
		t.Fatal("an unknown id is remembered with its clientState, and only with it")
	}
	now = now.Add(unknownTTL)
	if c.isUnknown("sub-0", hash) {
		t.Fatal("remembered as unknown beyond unknownTTL")
	}

	qs, keys = unknownAnswer(unknownSize + 500)
	c.learn(c.generation(), qs, keys)
	if len(c.unknown) > unknownSize {
		t.Fatalf("%d unknown entries held, want at most %d", len(c.unknown), unknownSize)
	}

	// An answer read before a change announced meanwhile is not kept.
	gen := c.generation()
	c.changed("")
	if len(c.unknown) != 0 {
		t.Fatalf("a change left %d unknown entries", len(c.unknown))
	}
	c.learn(gen, qs[:1], keys[:1])
	if c.isUnknown("sub-0", hash) {
		t.Fatal("an answer read before an announced change was remembered")
	}

	c.learn(c.generation(), qs[:1], keys[:1])
	c.trust(false)
	if c.isUnknown("sub-0", hash) {
		t.Fatal("unknown ids still remembered once changes are no longer announced")
	}
}

func TestAnAnnouncedChangeForgetsWhatWasKnownOfTheSubscriptionsPreviousID(t *testing.T) {
	c := newSubCache()
	key := store.SubscriptionKey{ID: uuid.New(), TenantID: uuid.New(), GraphID: "sub-1", ClientStateHash: store.ClientStateHash("s")}
	c.learn(c.generation(), []store.SubscriptionQuery{{GraphID: "sub-1"}}, []store.SubscriptionKey{key})
	if _, ok := c.known("sub-1"); !ok {
		t.Fatal("a found subscription is not known")
	}
	c.changed("sub-2")
	if _, ok := c.known("sub-1"); !ok {
		t.Fatal("another subscription's change forgot sub-1")
	}
	c.changed("sub-1")
	if _, ok := c.known("sub-1"); ok {
		t.Fatal("sub-1 still known after its change")
	}
}

// Past its bound, the unknown set makes room for many at once: making
// room scans every entry, and one scan per id remembered — a flood of
// fresh ids keeps all 10,000 younger than unknownTTL — held the cache's
// lock, which every genuine POST takes, for 10,000 map steps per id
// (FAULTS.md, the intake flood).
func TestRememberingPastTheBoundMakesRoomForManyAtOnce(t *testing.T) {
	c := newSubCache()
	c.trust(true)
	qs, keys := unknownAnswer(unknownSize)
	c.learn(c.generation(), qs, keys)
	if len(c.unknown) != unknownSize {
		t.Fatalf("%d unknown entries held, want %d", len(c.unknown), unknownSize)
	}
	more := []store.SubscriptionQuery{{GraphID: "one-more", ClientStateHash: store.ClientStateHash("s")}}
	c.learn(c.generation(), more, make([]store.SubscriptionKey, 1))
	if len(c.unknown) > unknownSize-unknownSize/8+1 {
		t.Fatalf("%d unknown entries held after one past the bound: room was made for one only", len(c.unknown))
	}
	if !c.isUnknown("one-more", store.ClientStateHash("s")) {
		t.Fatal("the id past the bound was not remembered")
	}
}

// A POST of 1,000 fresh unknown ids with the unknown set full.
func BenchmarkRememberingAThousandFreshUnknownIDsWithTheSetFull(b *testing.B) {
	c := newSubCache()
	c.trust(true)
	qs, keys := unknownAnswer(unknownSize)
	c.learn(c.generation(), qs, keys)
	fresh := make([][]store.SubscriptionQuery, 64)
	for i := range fresh {
		fresh[i] = make([]store.SubscriptionQuery, 1000)
		for k := range fresh[i] {
			fresh[i][k] = store.SubscriptionQuery{GraphID: uuid.NewString(), ClientStateHash: store.ClientStateHash("s")}
		}
	}
	none := make([]store.SubscriptionKey, 1000)
	b.ResetTimer()
	for i := range b.N {
		c.learn(c.generation(), fresh[i%len(fresh)], none)
	}
}
