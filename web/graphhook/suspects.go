package graphhook

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"time"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Suspects. Anyone who finds the URL can make the receiver read 8 MiB
// bodies and decode 2,000 items as fast as it answers, and each such POST
// took the same cores as Graph's: on an idle 2-core host, with every kind
// of hostile POST at once, Graph's acknowledgement took p99 249 ms
// against 13 ms before the flood; bodies sent chunked to the 8 MiB cap
// alone, 119 ms (FAULTS.md, the intake flood). A POST whose CPU is wasted
// must wait, not Graph's.
//
// So a POST's body is read only as far as its first item. If that item
// names a subscription with its clientState, the POST is Graph's as far
// as anyone can tell and is served at once. If not — an unknown
// subscription, a forged clientState, no item within headLimit bytes — it
// is a suspect: it gives its place among the POSTs served (MaxRequests)
// back, waits among at most MaxWaiting others for its turn, and only then
// is read to its end, parsed and checked, Deps.Suspects at a time (half
// the cores), into a buffer kept for the next. Whether the first item is
// genuine is read from the cache of what lookups found (cache.go); when
// it cannot tell, the POST takes a free turn as a suspect would — so a
// POST costs one lookup (check's) as long as no suspect waits — or, when
// none is free, its first item is looked up alone before it waits.
//
// A suspect is refused nothing for being one — a Graph POST whose first
// item is of a subscription we have deleted but Graph still holds is
// served too, only after those before it — and one that cannot have its
// turn before the deadline is answered 503, which Graph retries.
//
// A body whose first byte is not that of a JSON object can be no
// collection, and one declared over MaxBody none within the limit: they
// are refused (400, 413) unread, in a suspect's turn.

// headLimit bounds how much of a body is read to find its first item: a
// rich item with a status message and an out-of-office reply is ~3.6 KB
// (limits.go), and validationTokens written before value a JWT of ~1.5 KB
// for each application and tenant in the POST.
const headLimit = 64 << 10

// MaxWaiting bounds the suspect POSTs waiting for their turn; more are
// answered 503 at once. Each waits with at most headLimit bytes read.
const MaxWaiting = 4 * DefaultMaxRequests

// defaultSuspects is how many suspect POSTs are read and checked at once
// unless told otherwise: half the cores, so that the other half is left
// to Graph's POSTs and what follows them, whatever arrives.
func defaultSuspects() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// headVerdict is what the first bytes of a body tell.
type headVerdict int

const (
	headMore     headVerdict = iota // read more to tell
	headItem                        // the first item is found
	headNoItem                      // no first item found where Graph writes it
	headNoObject                    // it is no JSON object: no collection
)

// firstItem finds the first item of a body's "value" array in head, the
// body's first bytes (all of it when complete). It leans on the split's
// scanners (body.go), and is only a guess: what counts is the whole
// body's parse, later.
func firstItem(head []byte, complete bool) ([]byte, headVerdict) {
	more := headMore
	if complete {
		more = headNoItem
	}
	i := skipSpace(head, 0)
	if i >= len(head) {
		if complete {
			return nil, headNoObject
		}
		return nil, headMore
	}
	if head[i] != '{' {
		return nil, headNoObject
	}
	for i = skipSpace(head, i+1); ; {
		if i >= len(head) {
			return nil, more
		}
		if head[i] != '"' {
			return nil, headNoItem
		}
		end := stringEnd(head, i)
		if end < 0 {
			return nil, more
		}
		key := head[i+1 : end-1]
		if i = skipSpace(head, end); i >= len(head) {
			return nil, more
		}
		if head[i] != ':' {
			return nil, headNoItem
		}
		if i = skipSpace(head, i+1); i >= len(head) {
			return nil, more
		}
		if string(key) == "value" {
			if head[i] != '[' {
				return nil, headNoItem
			}
			if i = skipSpace(head, i+1); i >= len(head) {
				return nil, more
			}
			if head[i] != '{' {
				return nil, headNoItem
			}
			end, ok := skipValue(head, i)
			if !ok {
				return nil, more
			}
			return head[i:end], headItem
		}
		if bytes.IndexByte(key, '\\') >= 0 || bytes.EqualFold(key, []byte("value")) {
			return nil, headNoItem // read otherwise by the decoder: the parse decides
		}
		end, ok := skipValue(head, i)
		if !ok {
			return nil, more
		}
		if i = skipSpace(head, end); i >= len(head) {
			return nil, more
		}
		if head[i] != ',' {
			return nil, headNoItem
		}
		i = skipSpace(head, i+1)
	}
}

// genuine says whether a POST's first item, as sent, names a subscription
// with its clientState, as far as the cache tells (sure) or, if ask, a
// lookup of that item alone, as check would make.
func (h *Handler) genuine(ctx context.Context, raw []byte, ask bool) (yes, sure bool, err error) {
	var n notification.Notification
	if notification.Unmarshal(raw, &n) != nil || n.SubscriptionID == "" || n.ClientState == "" {
		return false, true, nil
	}
	hash := store.ClientStateHash(n.ClientState)
	if key, ok := h.cache.known(n.SubscriptionID); ok {
		return matches(key, hash) == "", true, nil
	}
	if h.cache.isUnknown(n.SubscriptionID, hash) {
		return false, true, nil
	}
	if !ask {
		return false, false, nil
	}
	keys, err := h.lookup(ctx, []store.SubscriptionQuery{{GraphID: n.SubscriptionID, ClientStateHash: hash}})
	if err != nil {
		return false, false, err
	}
	return matches(keys[0], hash) == "", true, nil
}

// While suspects wait, they take turns at an eighth of the time at most:
// a turn that took t is followed by a pause of 7t, at least
// minSuspectPause and at most maxSuspectPause, before the next. One turn
// at a time still left the flood a core (the one turn) and, answered as
// fast as it came, let it send as fast as it could: bodies sent chunked
// to the 8 MiB cap, of 2,001 items or of 1,000 forged ones, each kind
// alone took Graph's p99 to 250–320 ms under load average 20; and POSTs
// refused at their first bytes — a declared length over the limit, a
// body that is no JSON object — came back at 700 a second each, a
// connection each. The time a turn takes is wall time — reading, parsing,
// looking up — so a starved host, on which everything takes longer,
// pauses longer. A suspect alone takes its turn at once: a lone sender
// has one turn's core at most.
const (
	suspectPause    = 7
	minSuspectPause = 10 * time.Millisecond
	maxSuspectPause = time.Second
)

// turn is a suspect's turn to be read and checked, with the buffer its
// body is read into (kept for the next).
type turn struct {
	buf []byte
	at  time.Time
}

// tryTurn takes a turn if one is free.
func (h *Handler) tryTurn() (*turn, bool) {
	select {
	case buf := <-h.turns:
		return &turn{buf: buf, at: time.Now()}, true
	default:
		return nil, false
	}
}

// endTurn gives t back, after the pause it earned if suspects wait.
func (h *Handler) endTurn(t *turn) {
	if len(h.waiting) == 0 {
		h.turns <- t.buf
		return
	}
	pause := min(max(suspectPause*time.Since(t.at), minSuspectPause), maxSuspectPause)
	time.AfterFunc(pause, func() { h.turns <- t.buf })
}

// readBody reads r to its end onto b, growing it as needed up to
// MaxBody+1 bytes (MaxBytesReader's error comes with the byte past the
// limit), or until stop, if given, says enough was read.
func readBody(b []byte, r io.Reader, stop func([]byte) bool) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), max(min(2*cap(b), MaxBody+1), len(b)+bytes.MinRead))
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			return b, err
		}
		if n > 0 && stop != nil && stop(b) {
			return b, nil
		}
	}
}
