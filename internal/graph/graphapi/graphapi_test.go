package graphapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestPresenceResourceQuotesEveryID(t *testing.T) {
	got := PresenceResource([]string{"a1", "b'2"})
	want := "/communications/presences?$filter=id in ('a1','b''2')"
	if got != want {
		t.Errorf("PresenceResource = %q, want %q", got, want)
	}
}

func TestPresenceResourceIDsReadsBackWhatPresenceResourceWrote(t *testing.T) {
	for _, ids := range [][]string{{"a1"}, {"a1", "b'2", "''", "c,d"}} {
		got, ok := PresenceResourceIDs(PresenceResource(ids))
		if !ok || !slices.Equal(got, ids) {
			t.Errorf("PresenceResourceIDs(PresenceResource(%q)) = %q, %v", ids, got, ok)
		}
	}
	for _, bad := range []string{"", "/communications/presences/a1", "/users?$filter=id in ('a1')", "/communications/presences?$filter=id in ()",
		"/communications/presences?$filter=id in ('a1'", "/communications/presences?$filter=id in ('a1',)",
		"/communications/presences?$filter=id in ('a1)", "/communications/presences?$filter=id in (a1)"} {
		if ids, ok := PresenceResourceIDs(bad); ok {
			t.Errorf("PresenceResourceIDs(%q) = %q, accepted", bad, ids)
		}
	}
}

func TestErrorHelpersSeeThroughWrapping(t *testing.T) {
	cases := []struct {
		status                                                    int
		notFound, conflict, throttled, auth, forbidden, transient bool
	}{
		{http.StatusNotFound, true, false, false, false, false, false},
		{http.StatusConflict, false, true, false, false, false, false},
		{http.StatusTooManyRequests, false, false, true, false, false, true},
		{http.StatusServiceUnavailable, false, false, true, false, false, true},
		{http.StatusUnauthorized, false, false, false, true, false, false},
		{http.StatusForbidden, false, false, false, true, true, false},
		{http.StatusBadGateway, false, false, false, false, false, true},
	}
	for _, tc := range cases {
		err := fmt.Errorf("renew s1: %w", &Error{Status: tc.status, RetryAfter: 3 * time.Second})
		if IsNotFound(err) != tc.notFound || IsConflict(err) != tc.conflict || IsThrottled(err) != tc.throttled ||
			IsAuth(err) != tc.auth || IsForbidden(err) != tc.forbidden || IsTransient(err) != tc.transient {
			t.Errorf("%d: helpers disagree", tc.status)
		}
		if RetryAfter(err) != 3*time.Second {
			t.Errorf("%d: RetryAfter = %v", tc.status, RetryAfter(err))
		}
	}
	plain := errors.New("dial tcp: connection refused")
	if IsNotFound(plain) || IsTransient(plain) || RetryAfter(plain) != 0 {
		t.Error("a non-Graph error reads as a Graph answer")
	}
}

func TestErrorMessageNamesStatusCodeAndRequestID(t *testing.T) {
	e := &Error{Status: 404, Code: "Request_ResourceNotFound", Message: "gone", RequestID: "r-1"}
	if got := e.Error(); got != "404 Request_ResourceNotFound: gone (request-id r-1)" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Status: 502}).Error(); got != "502" {
		t.Errorf("bare Error() = %q", got)
	}
}
