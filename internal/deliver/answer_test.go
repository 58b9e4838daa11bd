package deliver

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAFailedDeliveryKeepsTheStartOfTheEndpointsAnswer: what the endpoint
// said when it refused is kept as the delivery's last error (its first
// 512 bytes), for the endpoint's delivery log; the log line names only
// the status.
func TestAFailedDeliveryKeepsTheStartOfTheEndpointsAnswer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := newReceiver(t, func(int) (int, http.Header) { return http.StatusBadRequest, nil })
	r.answer = `{"error":"unknown user"}` + strings.Repeat(" ", 1000) + "tail"
	f.endpoint(t, f.tenant, r)
	f.change(t, f.tenant, uuid.New(), "Busy", "InACall", "talking")
	New(f.st, Options{AllowPrivate: true, Schedule: fast}).RunOnce(ctx)
	var status int
	var lastErr string
	f.pool.QueryRow(ctx, `SELECT last_status, last_error FROM deliveries`).Scan(&status, &lastErr)
	if status != 400 || lastErr != `HTTP 400: {"error":"unknown user"}` {
		t.Errorf("last status %d, last error %q", status, lastErr)
	}
}
