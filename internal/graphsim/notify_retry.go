package graphsim

import (
	"errors"
	"net/http"
	"time"
)

// retrySchedule is the back-off of a failed POST: first after the first
// failure, doubling up to max, for up to 4 hours (retryFor). Microsoft
// documents "exponential back-off" without the steps (docs/graph.md#delivery-and-acknowledgement);
// graphsim starts at 30 s. A fault suite that kills a receiver cannot wait
// 30 s of real time for each retry, nor move the Sim's clock under
// running processes (tokens would not yet be valid for them), so the
// steps can be shortened through the control API; the 4 hours stand.
type retrySchedule struct {
	first, max time.Duration
}

var defaultRetrySchedule = retrySchedule{first: retryFirstDelay, max: retryMaxDelay}

// SetRetrySchedule changes the back-off of failed POSTs; zeros restore
// the default (30 s doubling up to 30 min).
func (s *Sim) SetRetrySchedule(first, max time.Duration) error {
	if first == 0 && max == 0 {
		first, max = retryFirstDelay, retryMaxDelay
	}
	if first <= 0 || max < first || max > retryFor {
		return errors.New("firstDelayMs must be positive and maxDelayMs between it and 4 hours")
	}
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.retry = retrySchedule{first: first, max: max}
	return nil
}

func (s *Sim) retryControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"PUT", "/notifications/retry-schedule", `{"firstDelayMs": 30000, "maxDelayMs": 1800000}`,
			"shorten the back-off of failed notification POSTs (first retry, doubling up to max; both 0: the default 30 s to 30 min)", s.ctlRetrySchedule},
	}
}

func (s *Sim) ctlRetrySchedule(w http.ResponseWriter, r *http.Request) {
	var body struct {
		FirstDelayMS int64 `json:"firstDelayMs"`
		MaxDelayMS   int64 `json:"maxDelayMs"`
	}
	if !decode(w, r, &body) {
		return
	}
	if err := s.SetRetrySchedule(time.Duration(body.FirstDelayMS)*time.Millisecond, time.Duration(body.MaxDelayMS)*time.Millisecond); err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
