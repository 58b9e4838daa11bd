package deliver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// TestEventType is the type of a test event: no presence changed, and a
// receiver can tell it apart from presence.changed.
const TestEventType = "presence.test"

// TestEvent is what a test event carries (the envelope of every event:
// type, timestamp, data).
type TestEvent struct {
	Type      string        `json:"type"`
	Timestamp time.Time     `json:"timestamp"`
	Data      TestEventData `json:"data"`
}

// TestEventData names the event, the tenant and the endpoint it was sent to.
type TestEventData struct {
	EventID    uuid.UUID `json:"eventId"`
	TenantID   uuid.UUID `json:"tenantId"`
	EndpointID uuid.UUID `json:"endpointId"`
	Message    string    `json:"message"`
}

// TestResult is how an endpoint took a test event.
type TestResult struct {
	EventID uuid.UUID
	// Status is the endpoint's HTTP status (0: it did not answer), and
	// Latency how long the request took.
	Status  int
	Latency time.Duration
	// Error says why the endpoint did not take the event (empty when it
	// answered 2xx): the network's error or its answer, truncated.
	Error string
}

// SendTest sends a signed test event to one of a tenant's endpoints now,
// as a delivery would be sent — the same signing (both secrets during a
// rotation's overlap) and the same address-checked client — whatever the
// endpoint's state, schedule or circuit. Nothing is stored: it is no
// presence event, and no delivery records it. The error is ours (no such
// endpoint, the database); the endpoint's failure is in the result.
func (d *Deliverer) SendTest(ctx context.Context, tenant, endpoint uuid.UUID) (TestResult, error) {
	ep, err := d.st.GetEndpoint(ctx, tenant, endpoint)
	if err != nil {
		return TestResult{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return TestResult{}, err
	}
	body, err := json.Marshal(TestEvent{Type: TestEventType, Timestamp: time.Now().UTC(), Data: TestEventData{EventID: id,
		TenantID: tenant, EndpointID: endpoint, Message: "A test event from Presence Bridge: no presence changed."}})
	if err != nil {
		return TestResult{}, err
	}
	secrets := signers(ep.SecretID, ep.PrevSecretID)
	for _, s := range secrets {
		if _, err := d.signerOf(ctx, tenant, s); err != nil {
			return TestResult{}, err // a secret that will not open is ours to fix, not the endpoint's
		}
	}
	start := time.Now()
	a, err := d.post(ctx, tenant, ep.URL, secrets, id.String(), body)
	r := TestResult{EventID: id, Status: a.status, Latency: time.Since(start)}
	switch {
	case err != nil:
		r.Error = err.Error()
	case !a.ok():
		r.Error = a.reason()
	}
	return r, nil
}
