package faults

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Front is where Graph's notifications and the suite's API calls reach
// the product: a reverse proxy on a port of its own in front of the web
// role (or serve), so the role can be killed and started again on its
// port while Graph keeps one notificationUrl, and so the suite sees what
// the intake answered Graph. A role that is down is a 502 to Graph: not
// acknowledged, retried, as a refused connection would be.
type Front struct {
	URL string

	srv *http.Server

	mu      sync.Mutex
	answers []IntakeAnswer
}

// IntakeAnswer is what the product answered one notification POST.
type IntakeAnswer struct {
	At     time.Time
	Status int
	// Latency is from the POST's arrival at the front to the answer's
	// headers: what Graph waits for its acknowledgement, but for the
	// loopback hop to the front.
	Latency time.Duration
	// Err is why the front answered 502: what reaching the product failed
	// on.
	Err string
}

// NewFront serves a Front on a free loopback port, forwarding to the
// product at backend (host:port).
func NewFront(backend string) (*Front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{URL: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	rp.ModifyResponse = func(resp *http.Response) error {
		f.note(resp.Request, resp.StatusCode, nil)
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		f.note(r, http.StatusBadGateway, err)
		w.WriteHeader(http.StatusBadGateway)
	}
	arrived := func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), arrivalKey{}, time.Now())))
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(arrived), ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

func (f *Front) note(r *http.Request, status int, err error) {
	if r.Method != http.MethodPost || r.URL.Path != "/graph/notifications" || r.URL.Query().Has("validationToken") {
		return
	}
	now := time.Now()
	a := IntakeAnswer{At: now, Status: status}
	if err != nil {
		a.Err = err.Error()
	}
	if at, ok := r.Context().Value(arrivalKey{}).(time.Time); ok {
		a.Latency = now.Sub(at)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, a)
}

// arrivalKey holds in a request's context when it reached the front.
type arrivalKey struct{}

// AnswersBetween are the intake's answers to notification POSTs between
// from and to, in order.
func (f *Front) AnswersBetween(from, to time.Time) []IntakeAnswer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []IntakeAnswer
	for _, a := range f.answers {
		if !a.At.Before(from) && !a.At.After(to) {
			out = append(out, a)
		}
	}
	return out
}

// Answers are the intake's answers to notification POSTs between from
// and to, by status.
func (f *Front) Answers(from, to time.Time) map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int{}
	for _, a := range f.answers {
		if !a.At.Before(from) && !a.At.After(to) {
			out[a.Status]++
		}
	}
	return out
}

// Close stops the front.
func (f *Front) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	f.srv.Shutdown(ctx)
	f.srv.Close()
}
