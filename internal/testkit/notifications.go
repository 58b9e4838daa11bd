package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// NotificationReceiver stands for Presence Bridge's public address as
// Graph (graphsim) sees it: it answers subscription validation handshakes
// (200, text/plain, the decoded token) and accepts notification POSTs
// (202), handing each body to Posts (dropped when nobody reads).
type NotificationReceiver struct {
	Base  string      // the server's URL (PB_BASE_URL)
	URL   string      // Base + "/graph/notifications"
	Posts chan []byte // notification bodies
}

// NewNotificationReceiver serves a NotificationReceiver on loopback until
// the test ends.
func NewNotificationReceiver(t testing.TB) *NotificationReceiver {
	t.Helper()
	nr := &NotificationReceiver{Posts: make(chan []byte, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("validationToken") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, r.URL.Query().Get("validationToken"))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		select {
		case nr.Posts <- body:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	nr.Base, nr.URL = srv.URL, srv.URL+"/graph/notifications"
	return nr
}
