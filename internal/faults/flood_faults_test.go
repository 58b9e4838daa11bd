//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit/freeport"
	"presencebridge/web/graphhook"
)

// (m) The intake flood: while Graph's real notifications flow, hostile
// POSTs hit the notification URL at full speed from several goroutines —
// items of subscriptions nobody made (fresh ids), a real subscription's
// items with a forged clientState, garbage, more items than a POST may
// hold, bodies over 8 MiB (declared, and sent), bodies that never arrive.
// Nothing acknowledged is lost, and Graph's POSTs are answered as before:
// each acknowledged (202), and in the full form within 100 ms at the 99th
// percentile as graphsim measured it (its journal: from a notification's
// first POST to the answer). Each kind alone first, then all together;
// the figures are printed with the hostile rate and the host's load, and
// the front's own view of Graph's POSTs beside graphsim's.
func TestIntakeFloodLeavesGraphsNotificationsFastAndLosesNothing(t *testing.T) {
	s := sized()
	opts := Options{Users: s.users}
	// PB_FAULTS_PROFILE=DIR saves a CPU profile of serve for each phase in
	// DIR, from its admin listener (where to look before changing the door).
	profDir := os.Getenv("PB_FAULTS_PROFILE")
	var admin string
	if profDir != "" {
		var err error
		if admin, err = freeport.Addr(); err != nil {
			t.Fatal(err)
		}
		opts.Env = append(opts.Env, "PB_ADMIN_ADDR="+admin)
	}
	w := Start(t, opts)
	ctx := context.Background()
	subs, err := w.Graph.Subscriptions(ctx)
	if err != nil || len(subs) == 0 {
		t.Fatalf("no subscription to forge items of (%v)", err)
	}
	target := "http://" + w.webAddr + "/graph/notifications"
	tr := w.Drive(s.rate)
	time.Sleep(s.load / 2)
	calmFrom := time.Now()
	time.Sleep(s.load)
	calmTo := time.Now()
	calm := w.Front.AnswersBetween(calmFrom, calmTo)

	f := newFlood(target, subs[0].ID)
	// Each kind alone first, to tell which costs Graph's POSTs what.
	var kinds []string
	for k := range f.kinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		from := time.Now()
		f.start([]string{k}, 2)
		profile(t, admin, profDir, k, s.load/2)
		f.stop()
		to := time.Now()
		j, err := w.Graph.Journal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s alone: Graph's notifications %s; hostile %s (load average %s)", k, ackLatencies(j, from, to), f.take(), loadAverage())
	}
	floodFrom := time.Now()
	f.start(kinds, 2)
	profile(t, admin, profDir, "all together", s.load)
	floodTo := time.Now()
	load := loadAverage()
	f.stop()
	during := w.Front.AnswersBetween(floodFrom, floodTo)
	time.Sleep(s.load / 2)
	t.Logf("%d presence changes", tr.Stop())
	// A backlog worked by parallel processors may apply a user's newer
	// version first (the host starved of CPU by the flood).
	w.Check(w.Settle(60*time.Second), Expect{Overtaken: true})
	w.StillRunning(t, "serve")

	took := floodTo.Sub(floodFrom)
	t.Logf("hostile POSTs: %d in %s (%.0f a second, %d failed to send) — %s", f.total(), took.Round(time.Millisecond),
		float64(f.total())/took.Seconds(), f.errors.Load(), f.summary())
	t.Logf("load average during the flood: %s", load)
	j, err := w.Graph.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range []struct {
		name     string
		from, to time.Time
		answers  []IntakeAnswer
	}{{"before the flood", calmFrom, calmTo, calm}, {"during the flood", floodFrom, floodTo, during}} {
		t.Logf("Graph's notifications %s, acknowledged after (graphsim's side): %s; its POSTs as the front saw them: %s",
			ph.name, ackLatencies(j, ph.from, ph.to), latencies(ph.answers))
	}
	if f.total() == 0 {
		t.Fatal("no hostile POST was answered: the flood did not run")
	}
	var refused int
	for _, a := range during {
		if a.Status != http.StatusAccepted {
			refused++
		}
	}
	if len(during) == 0 {
		t.Fatal("Graph sent no POST during the flood: nothing was measured")
	}
	if refused > 0 {
		errs := map[string]int{}
		for _, a := range during {
			if a.Err != "" {
				errs[a.Err]++
			}
		}
		t.Errorf("%d of Graph's %d POSTs during the flood were not acknowledged (%v; the front's errors: %v)", refused, len(during),
			statuses(during), errs)
	}
	acks := ackTimes(j, floodFrom, floodTo)
	if len(acks) == 0 {
		t.Fatal("graphsim's journal has no notification posted during the flood")
	}
	if p99 := quantile(acks, 0.99); full() && p99 > 100*time.Millisecond {
		t.Errorf("Graph's notifications during the flood were acknowledged after p99 %s, want ≤ 100 ms (load average %s)",
			p99.Round(time.Millisecond), load)
	}
}

// profile saves a CPU profile of the product's process whose admin
// listener is admin, taken for d, in dir as name.pprof; without dir, it
// only waits d.
func profile(t *testing.T, admin, dir, name string, d time.Duration) {
	if dir == "" {
		time.Sleep(d)
		return
	}
	began := time.Now()
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds())))
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		if b, err = io.ReadAll(resp.Body); err == nil {
			err = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pprof"), b, 0o644)
		}
	}
	if err != nil {
		t.Logf("no profile of %s: %v", name, err)
	}
	time.Sleep(d - time.Since(began))
}

// ackTimes are how long Graph waited for the acknowledgement of each
// notification it first posted between from and to (graphsim's journal).
func ackTimes(j graphsim.Journal, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, e := range j.Entries {
		if e.PostedAt != nil && !e.PostedAt.Before(from) && !e.PostedAt.After(to) && e.AckTook > 0 {
			out = append(out, e.AckTook)
		}
	}
	return out
}

// ackLatencies describes ackTimes: how many, p50, p99, max.
func ackLatencies(j graphsim.Journal, from, to time.Time) string {
	ls := ackTimes(j, from, to)
	return fmt.Sprintf("%d notifications, p50 %s, p99 %s, max %s", len(ls), quantile(ls, 0.5).Round(100*time.Microsecond),
		quantile(ls, 0.99).Round(100*time.Microsecond), quantile(ls, 1).Round(100*time.Microsecond))
}

// flood sends hostile POSTs of each kind from n goroutines a kind, each as
// soon as the last is answered, until stop. The bodies are made before:
// the test's CPU goes to sending them.
type flood struct {
	url    string
	kinds  map[string]func(n int) (int, error)
	client *http.Client

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errors atomic.Int64

	mu     sync.Mutex
	counts map[string]map[int]int // kind → status → POSTs
}

func newFlood(url, realSub string) *flood {
	f := &flood{url: url, counts: map[string]map[int]int{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}}
	fresh := make([][]byte, 32)
	for i := range fresh {
		fresh[i] = items(1000, func(int) string { return uuid.NewString() }, "state")
	}
	forged := items(1000, func(int) string { return realSub }, "forged")
	tooMany := items(graphhook.MaxItems+1, func(int) string { return uuid.NewString() }, "state")
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	oversize := bytes.Repeat([]byte(" "), graphhook.MaxBody+1)
	f.kinds = map[string]func(n int) (int, error){
		"fresh unknown ids":  func(n int) (int, error) { return f.post(bytes.NewReader(fresh[n%len(fresh)]), false) },
		"forged clientState": func(int) (int, error) { return f.post(bytes.NewReader(forged), false) },
		"garbage":            func(int) (int, error) { return f.post(bytes.NewReader(garbage), false) },
		"too many items":     func(int) (int, error) { return f.post(bytes.NewReader(tooMany), false) },
		// Declared over the limit: refused before a byte of it is read.
		"declared oversize": func(int) (int, error) { return f.raw(fmt.Sprintf("Content-Length: %d", 16<<20), "{") },
		// Sent chunked, so that the receiver has to read up to its limit.
		"sent oversize": func(int) (int, error) {
			return f.post(io.MultiReader(strings.NewReader(`{"value":[`), bytes.NewReader(oversize)), true)
		},
		// A kilobyte declared, one byte sent: the answer comes at the
		// deadline.
		"stalled body": func(int) (int, error) { return f.raw("Content-Length: 1024", "{") },
	}
	return f
}

// items is a changeNotificationCollection of n presence items, item i of
// subscription sub(i) with clientState state.
func items(n int, sub func(int) string, state string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		u := uuid.NewString()
		fmt.Fprintf(&b, `{"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-12-02T12:00:00.0000000Z","changeType":"updated",`+
			`"clientState":%q,"resource":"communications/presences/%s","tenantId":%q,`+
			`"resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/%s/presence","id":%q}}`,
			sub(i), state, u, uuid.NewString(), u, u)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// post sends body (0: chunked) and reads the answer.
func (f *flood) post(body io.Reader, chunked bool) (int, error) {
	req, err := http.NewRequest(http.MethodPost, f.url, body)
	if err != nil {
		return 0, err
	}
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// raw sends a POST with header and what is sent of its body on a
// connection of its own, as no HTTP client would (a length it does not
// send), and reads the answer.
func (f *flood) raw(header, sent string) (int, error) {
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(f.url, "http://"), "/graph/notifications"))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "POST /graph/notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n\r\n%s", header, sent); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// start sends POSTs of kinds, from each goroutines a kind, until stop.
func (f *flood) start(kinds []string, each int) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, kind := range kinds {
		send := f.kinds[kind]
		for range each {
			f.wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					status, err := send(n)
					if err != nil {
						f.errors.Add(1)
						continue
					}
					f.mu.Lock()
					if f.counts[kind] == nil {
						f.counts[kind] = map[int]int{}
					}
					f.counts[kind][status]++
					f.mu.Unlock()
				}
			})
		}
	}
}

func (f *flood) stop() {
	f.cancel()
	f.wg.Wait()
}

// take describes the hostile POSTs answered so far and forgets them.
func (f *flood) take() string {
	desc := fmt.Sprintf("%d answered (%d failed to send): %s", f.total(), f.errors.Load(), f.summary())
	f.mu.Lock()
	f.counts = map[string]map[int]int{}
	f.mu.Unlock()
	f.errors.Store(0)
	return desc
}

// total is how many hostile POSTs were answered.
func (f *flood) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		for _, k := range c {
			n += k
		}
	}
	return n
}

// summary is each kind's answers by status.
func (f *flood) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for kind, c := range f.counts {
		parts = append(parts, fmt.Sprintf("%s %v", kind, c))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// percentile is the q-quantile of the answers' latencies.
func percentile(as []IntakeAnswer, q float64) time.Duration {
	ls := make([]time.Duration, len(as))
	for i, a := range as {
		ls[i] = a.Latency
	}
	return quantile(ls, q)
}

// quantile is the q-quantile of ls (nearest rank; 0 for none).
func quantile(ls []time.Duration, q float64) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	ls = slices.Clone(ls)
	slices.Sort(ls)
	return ls[max(0, int(math.Ceil(q*float64(len(ls))))-1)]
}

// latencies describes the answers: how many, by status, p50, p99, max.
func latencies(as []IntakeAnswer) string {
	return fmt.Sprintf("%d answered %v, p50 %s, p99 %s, max %s", len(as), statuses(as), percentile(as, 0.5).Round(100*time.Microsecond),
		percentile(as, 0.99).Round(100*time.Microsecond), percentile(as, 1).Round(100*time.Microsecond))
}

func statuses(as []IntakeAnswer) map[int]int {
	out := map[int]int{}
	for _, a := range as {
		out[a.Status]++
	}
	return out
}

// loadAverage is the host's load average (1, 5 and 15 minutes).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
