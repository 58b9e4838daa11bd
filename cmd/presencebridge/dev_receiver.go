package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"presencebridge/internal/presence"
)

// The demo tenant's webhook: a telephony platform's receiver in miniature,
// on loopback, that checks each delivery's Standard Webhooks signature and
// prints one line per event, so a reader of dev's output sees events
// arrive. It prefers a fixed port, so the demo's endpoint stays the same
// across runs, and takes a free one when that is busy.
const (
	devReceiverAddr = "127.0.0.1:9091"
	devReceiverPath = "/webhook"
)

// devReceiver is the running receiver.
type devReceiver struct {
	url string
	out io.Writer
	mu  sync.Mutex // one line at a time
	wh  atomic.Pointer[standardwebhooks.Webhook]
}

// startDevReceiver serves the receiver until ctx ends, printing to out.
func startDevReceiver(ctx context.Context, out io.Writer) (*devReceiver, error) {
	ln, err := net.Listen("tcp", devReceiverAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("dev's webhook receiver: %w", err)
	}
	r := &devReceiver{url: "http://" + ln.Addr().String() + devReceiverPath, out: out}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return r, nil
}

// verifyWith sets the endpoint's signing secret (whsec_…), known once the
// demo tenant is ready and printed; until then deliveries are answered 503
// with Retry-After: 1, so they come again once they can be checked, and
// their lines come after dev's.
func (r *devReceiver) verifyWith(secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("dev's webhook receiver: the signing secret: %w", err)
	}
	r.wh.Store(wh)
	return nil
}

// ServeHTTP takes one delivery. It answers 204 even when the signature
// does not verify (a platform would refuse it): the line says so, and a
// refusal would only make the deliverer retry for a day.
func (r *devReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != devReceiverPath {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	wh := r.wh.Load()
	if wh == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	check := "signature verified"
	if err := wh.Verify(body, req.Header); err != nil {
		check = "signature NOT verified: " + err.Error()
	}
	var ev presence.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		ev.Type = "unreadable event"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Type != presence.EventType {
		fmt.Fprintf(r.out, "event  %s  %s  %s\n", time.Now().Format(time.TimeOnly), ev.Type, check)
	} else {
		d := ev.Data
		fmt.Fprintf(r.out, "event  %s  %s  %s  %s/%s  #%d  %s\n", ev.Timestamp.Local().Format(time.TimeOnly),
			d.User.UPN, d.State, d.Availability, d.Activity, d.Sequence, check)
	}
	w.WriteHeader(http.StatusNoContent)
}
