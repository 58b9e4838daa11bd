package graphhook

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openPost starts a POST of a body of length bytes on a connection of its
// own and sends only its first part: the rest is sent (finish) or never.
type openPost struct {
	t      *testing.T
	conn   net.Conn
	rest   string
	answer chan int // the status, once answered; 0 when none came
}

func startPost(t *testing.T, f *fixture, first, rest string) *openPost {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &openPost{t: t, conn: conn, rest: rest, answer: make(chan int, 1)}
	if _, err := fmt.Fprintf(conn, "POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(first)+len(rest), first); err != nil {
		t.Fatal(err)
	}
	go func() {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			p.answer <- 0
			return
		}
		resp.Body.Close()
		p.answer <- resp.StatusCode
	}()
	return p
}

func (p *openPost) finish() {
	if _, err := io.WriteString(p.conn, p.rest); err != nil {
		p.t.Fatal(err)
	}
}

func (p *openPost) status() int {
	select {
	case s := <-p.answer:
		return s
	case <-time.After(30 * time.Second):
		p.t.Fatal("no answer within 30 s")
		return 0
	}
}

// A POST whose first item names no subscription we know (or a forged
// clientState) is not shown to be Graph's: it waits its turn to be read
// and checked, one at a time, and holds none of the places of the POSTs
// being served (MaxRequests) meanwhile — so that however many of them
// arrive, and however slowly their bodies come, Graph's POSTs, whose first
// item is genuine, are served at once and alone compete for those places.
func TestPostsNotShownToBeGraphsWaitTheirTurnOutsideGraphsPlaces(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxRequests = 2; d.Deadline = time.Minute })
	unknown := `{"value":[` + item("sub-9", "state-1", "u1") + `,`
	rest := item("sub-9", "state-1", "u2") + `]}`
	// Two suspects whose bodies stop after their first item: before, both
	// held the two places until their deadline.
	a := startPost(t, f, unknown, rest)
	b := startPost(t, f, unknown, rest)
	time.Sleep(200 * time.Millisecond) // both have sent their first item
	if code, body := f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "state-1", "u1")+`]}`); code != http.StatusAccepted {
		t.Fatalf("Graph's POST while two suspect bodies are open: %d %s, want 202", code, body)
	}
	// One of the two is being read; the other waits for it, even once its
	// whole body has come.
	for _, p := range []*openPost{a, b} {
		select {
		case s := <-p.answer:
			t.Fatalf("a suspect POST was answered %d before its body came", s)
		default:
		}
	}
	b.finish()
	time.Sleep(200 * time.Millisecond)
	a.finish()
	if sa, sb := a.status(), b.status(); sa != http.StatusAccepted || sb != http.StatusAccepted {
		t.Fatalf("the suspect POSTs, once their bodies came: %d and %d, want 202 (nothing of them committed)", sa, sb)
	}
	if rows, items, _ := f.inbox(t); rows != 1 || items != 1 {
		t.Fatalf("inbox: %d rows of %d items, want Graph's one", rows, items)
	}
}

// While one suspect POST is being read, another waits, whole or not; once
// the first is done, the other is served.
func TestASuspectPostWaitsWhileAnotherIsReadAndChecked(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.Deadline = time.Minute })
	first := `{"value":[` + item("sub-1", "forged", "u1") + `,`
	a := startPost(t, f, first, item("sub-1", "forged", "u2")+`]}`)
	time.Sleep(200 * time.Millisecond) // a holds the suspects' turn
	b := startPost(t, f, first+item("sub-1", "forged", "u2")+`]}`, "")
	select {
	case s := <-b.answer:
		t.Fatalf("a second suspect POST was answered %d while the first was being read", s)
	case <-time.After(500 * time.Millisecond):
	}
	a.finish()
	if sa, sb := a.status(), b.status(); sa != http.StatusAccepted || sb != http.StatusAccepted {
		t.Fatalf("the suspect POSTs: %d and %d, want 202", sa, sb)
	}
	if rows, _, _ := f.inbox(t); rows != 0 {
		t.Fatalf("forged POSTs left %d inbox rows", rows)
	}
}

// A body whose first byte is not that of a JSON object can be no
// collection: it is refused (400) at once, not read to its end — nor
// waited for until the deadline when the rest never comes.
func TestABodyThatIsNoJSONObjectIsRefusedAtItsFirstByte(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.Deadline = time.Minute })
	for _, first := range []string{"x", " \n[", "\x00"} {
		p := startPost(t, f, first, strings.Repeat("x", 1000))
		if s := p.status(); s != http.StatusBadRequest {
			t.Errorf("a body beginning %q: %d, want 400 at once", first, s)
		}
	}
}

// A POST of more items than allowed is refused on their count: none of
// them is decoded (a copy of each, as json.RawMessage, was made before:
// 2,001 allocations at least).
func TestRefusingMoreThan2000ItemsDecodesNoneOfThem(t *testing.T) {
	body := []byte(withItems(MaxItems+1, 0))
	allocs := testing.AllocsPerRun(5, func() {
		if _, n, err := parse(body); err != errOverLimit || n != MaxItems+1 {
			t.Fatalf("parse: %d items, %v; want %d, errOverLimit", n, err, MaxItems+1)
		}
	})
	if allocs > 100 {
		t.Fatalf("refusing %d items allocated %.0f times, want no allocation per item", MaxItems+1, allocs)
	}
}

// Bodies sent chunked past MaxBody are read, one after another, into the
// same buffer: before, each grew a buffer of its own by doubling to
// 16 MiB, 32 MiB allocated and cleared for each such POST, and the
// collector ran for them at the expense of Graph's POSTs.
func TestChunkedBodiesPastTheLimitAreReadIntoOneBufferAgainAndAgain(t *testing.T) {
	h, inbox := fuzzReceiver()
	oversize := append([]byte(`{"value":[`), bytes.Repeat([]byte(" "), MaxBody)...)
	send := func() {
		req := httptest.NewRequest(http.MethodPost, "/graph/notifications", io.MultiReader(bytes.NewReader(oversize)))
		if req.ContentLength != -1 {
			t.Fatalf("the body's length is declared (%d): not the case tested", req.ContentLength)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("a chunked body past the limit: %d, want 413", rec.Code)
		}
	}
	send()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 3 {
		send()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 3; per > 1<<20 {
		t.Fatalf("each chunked POST past the limit allocated %d KiB, want under 1 MiB", per>>10)
	}
	if rows := inbox.take(); len(rows) > 0 {
		t.Fatalf("committed %d rows", len(rows))
	}
}

// While suspects wait, a suspect's turn is followed by a pause of seven
// times its length (at most maxSuspectPause) before the next suspect's: a
// turn held 300 ms by a body that came slowly keeps the next suspect
// waiting ~1 s more, while Graph's POSTs are served meanwhile. (The bound checked is a floor,
// which a loaded host only makes easier to meet.)
func TestSuspectsTakeTheirTurnsAtAnEighthOfTheTimeAtMost(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.Deadline = time.Minute })
	first := `{"value":[` + item("sub-1", "forged", "u1") + `,`
	a := startPost(t, f, first, item("sub-1", "forged", "u2")+`]}`)
	time.Sleep(300 * time.Millisecond) // a holds the suspects' turn, its body unfinished
	b := startPost(t, f, first+item("sub-1", "forged", "u2")+`]}`, "")
	for deadline := time.Now().Add(10 * time.Second); len(f.h.waiting) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second suspect does not wait for its turn")
		}
	}
	a.finish()
	if s := a.status(); s != http.StatusAccepted {
		t.Fatalf("the first suspect: %d, want 202", s)
	}
	answered := time.Now()
	if code, body := f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "state-1", "u1")+`]}`); code != http.StatusAccepted {
		t.Fatalf("Graph's POST during the pause: %d %s, want 202", code, body)
	}
	if s := b.status(); s != http.StatusAccepted {
		t.Fatalf("the second suspect: %d, want 202", s)
	}
	if gap := time.Since(answered); gap < 700*time.Millisecond {
		t.Fatalf("the second suspect was answered %v after the first, whose turn took 300 ms or more; want 7 × that, up to %v", gap, maxSuspectPause)
	}
}

// POSTs refused on their first bytes — a declared length over the limit,
// a body that is no JSON object — are suspects too: while another is being
// read they wait their turn, and are then refused. Answered at once, one
// sender each came back 700 times a second, a connection each, in the
// intake flood.
func TestPostsRefusedOnTheirFirstBytesAreAnsweredInASuspectsTurn(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.Deadline = time.Minute })
	a := startPost(t, f, `{"value":[`+item("sub-1", "forged", "u1")+`,`, item("sub-1", "forged", "u2")+`]}`)
	time.Sleep(200 * time.Millisecond) // a holds the suspects' turn
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	declared := make(chan int, 1)
	go func() {
		fmt.Fprintf(conn, "POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", 16<<20)
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			declared <- 0
			return
		}
		resp.Body.Close()
		declared <- resp.StatusCode
	}()
	garbage := startPost(t, f, "garbage", "")
	select {
	case s := <-declared:
		t.Fatalf("a POST declared over the limit was answered %d while a suspect was being read", s)
	case s := <-garbage.answer:
		t.Fatalf("a body that is no JSON object was answered %d while a suspect was being read", s)
	case <-time.After(500 * time.Millisecond):
	}
	a.finish()
	if s := a.status(); s != http.StatusAccepted {
		t.Fatalf("the suspect being read: %d, want 202", s)
	}
	select {
	case s := <-declared:
		if s != http.StatusRequestEntityTooLarge {
			t.Errorf("a POST declared over the limit: %d, want 413", s)
		}
	case <-time.After(30 * time.Second):
		t.Error("a POST declared over the limit: no answer")
	}
	if s := garbage.status(); s != http.StatusBadRequest {
		t.Errorf("a body that is no JSON object: %d, want 400", s)
	}
}
