package graphhook

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// hostile are the POSTs anyone who finds the URL can send, each as fast as
// it is answered: a body of more than 8 MiB, declared or sent chunked; more
// items than a POST may hold; items of subscriptions nobody made, fresh
// ids or the same again; forged clientStates of a real subscription; a
// body that never comes. The bodies are made once: the test's own CPU
// goes to the receiver, not to making them.
func hostile() map[string]func(url string, n int) error {
	fresh := make([]string, 100)
	for i := range fresh {
		fresh[i] = `{"value":[` + strings.Join(unknownItems(uuid.NewString(), 100), ",") + `]}`
	}
	repeated := `{"value":[` + strings.Join(unknownItems("again", 500), ",") + `]}`
	forged := `{"value":[` + strings.Repeat(item("sub-1", "forged", "u1")+",", 499) + item("sub-1", "forged", "u1") + `]}`
	tooMany := withItems(MaxItems+1, 0)
	oversize := strings.Repeat(" ", MaxBody)
	return map[string]func(url string, n int) error{
		"declared oversize": func(url string, _ int) error {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("{"))
			req.ContentLength = 16 << 20
			return send(req)
		},
		"chunked oversize": func(url string, _ int) error {
			req, _ := http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(`{"value":[`), strings.NewReader(oversize)))
			return send(req)
		},
		"too many items":       func(url string, _ int) error { return postItems(url, tooMany) },
		"fresh unknown ids":    func(url string, n int) error { return postItems(url, fresh[n%len(fresh)]) },
		"repeated unknown ids": func(url string, _ int) error { return postItems(url, repeated) },
		"forged clientState":   func(url string, _ int) error { return postItems(url, forged) },
		"stalled body": func(url string, _ int) error {
			conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/graph/notifications"), "http://"))
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.Write([]byte("POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"))
			_, err = http.ReadResponse(bufio.NewReader(conn), nil)
			return err
		},
	}
}

func send(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func postItems(url, body string) error {
	_, _, err := post(url, body)
	return err
}

// The headline of issue 15's flood: while hostile POSTs of every kind
// hammer the URL at once — more of them than the main pool has
// connections — and everything else holds the main pool, Graph's genuine
// POSTs are still committed and answered 202, each in time (a 202 comes
// within the deadline or not at all), and the flood commits nothing. How
// fast is for the benchmarks; a test on a shared machine asserts only that
// it is in time.
func TestAGenuinePostIsAcceptedWhileHostilePostsHammerTheURL(t *testing.T) {
	f := newFixture(t)
	url := f.asTheWebRole(t)
	if code, b, err := post(url, `{"value":[`+item("sub-1", "state-1", "u0")+`]}`); err != nil || code != http.StatusAccepted {
		t.Fatalf("a genuine POST before the flood: %d %s %v", code, b, err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[string]int{}
	for kind, send := range hostile() {
		// Sixteen at once, more than the main pool's 8 connections.
		copies := map[string]int{"fresh unknown ids": 4, "stalled body": 6}[kind]
		if copies == 0 {
			copies = 1
		}
		for range copies {
			wg.Go(func() {
				// A breath between POSTs: on the 2 cores tests share, a
				// flood at full speed from this very process would starve
				// the receiver of CPU, which no receiver can help.
				for n := 0; ; n++ {
					select {
					case <-done:
						return
					case <-time.After(5 * time.Millisecond):
					}
					send(url, n)
					mu.Lock()
					sent[kind]++
					mu.Unlock()
				}
			})
		}
	}
	// Processors, engine locks and token refreshes (which hold a row lock
	// across a call to the identity platform) hold every connection of the
	// main pool meanwhile.
	var held []*pgxpool.Conn
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		c, err := f.pool.Acquire(ctx)
		cancel()
		if err != nil {
			break
		}
		held = append(held, c)
	}
	time.Sleep(Deadline) // in full swing: stalled bodies hold their places
	var slowest time.Duration
	for i := 1; i <= 10; i++ {
		start := time.Now()
		code, b, err := post(url, `{"value":[`+item("sub-1", "state-1", fmt.Sprint("u", i))+`]}`)
		if err != nil || code != http.StatusAccepted {
			t.Errorf("genuine POST %d during the flood: %d %s %v after %v, want 202", i, code, b, err, time.Since(start))
		}
		slowest = max(slowest, time.Since(start))
	}
	for _, c := range held {
		c.Release()
	}
	close(done)
	wg.Wait()
	if t.Failed() {
		for _, l := range f.logs.Lines("failed") {
			t.Log(l)
		}
	}
	t.Logf("the slowest genuine POST took %v; hostile POSTs answered meanwhile: %v", slowest, sent)
	if rows, items, _ := f.inbox(t); items != 11 {
		t.Errorf("inbox: %d rows of %d items; want the 11 genuine items and nothing of the flood", rows, items)
	}
}
