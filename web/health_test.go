package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthzAnswersWithoutTouchingReadiness(t *testing.T) {
	srv, _ := newServer(t, Deps{Ready: func(context.Context) error {
		t.Error("/healthz called the readiness check")
		return nil
	}})
	if resp, body := get(t, srv.URL+"/healthz"); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
}

func TestReadyzReportsFailureWithoutTheErrorText(t *testing.T) {
	var readyErr atomic.Pointer[error]
	var deadline atomic.Int64 // nanoseconds left when Ready was called
	srv, logs := newServer(t, Deps{Ready: func(ctx context.Context) error {
		if d, ok := ctx.Deadline(); ok {
			deadline.Store(int64(time.Until(d)))
		}
		if p := readyErr.Load(); p != nil {
			return *p
		}
		return nil
	}})

	if resp, body := get(t, srv.URL+"/readyz"); resp.StatusCode != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz when ready = %d %q, want 200 ready", resp.StatusCode, body)
	}
	if left := time.Duration(deadline.Load()); left <= 0 || left > readyTimeout {
		t.Fatalf("Ready got %v until its deadline, want a deadline within %v", left, readyTimeout)
	}

	secret := errors.New("failed to connect to postgres://pb:hunter2@db.internal:5432/pb")
	readyErr.Store(&secret)
	resp, body := get(t, srv.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz when not ready = %d, want 503", resp.StatusCode)
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "db.internal") {
		t.Fatalf("/readyz body reveals the error: %q", body)
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"not ready"`) || !strings.Contains(l, "db.internal") {
		t.Fatalf("the readiness failure was not logged in full:\n%s", l)
	}
}

func TestReadyzWithoutACheckIsReady(t *testing.T) {
	srv, _ := newServer(t, Deps{})
	if resp, _ := get(t, srv.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz with nil Ready = %d, want 200", resp.StatusCode)
	}
}
