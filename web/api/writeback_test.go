package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/jobs"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/writeback"
)

// answers stands in for the writer to give each of its answers in turn:
// the API's mapping of them is what these tests show. The writer itself is
// tested against graphsim (internal/writeback, enginetest) and the whole
// path on the serve binary (cmd/presencebridge).
type answers struct {
	errs []error
	got  []writeback.Request
}

func (a *answers) Do(_ context.Context, _, _ uuid.UUID, r writeback.Request) (writeback.Result, error) {
	a.got = append(a.got, r)
	err := a.errs[0]
	a.errs = a.errs[1:]
	return writeback.Result{Availability: r.Availability, Activity: r.Activity, Expires: time.Now().Add(time.Hour), Attempts: 1}, err
}

// A presence write answers 200 with what Teams shows, 422 naming the
// pairs Graph accepts, 409 asking for re-consent without the permission,
// 202 with an operation to poll when Graph throttles beyond the request,
// 404 for a user not on the roster and 403 for a key without
// presence:write; each write is audited.
func TestPresenceWritesAnswerEachOutcomeOfTheWriter(t *testing.T) {
	w := &answers{errs: []error{
		nil,
		&writeback.InvalidError{Field: "availability/activity", Reason: "Graph does not accept Available/InACall",
			Allowed: []presence.Pair{{Availability: "Busy", Activity: "InACall"}, {Availability: "Available", Activity: "Available"}}},
		&writeback.PermissionError{Missing: writeback.Permission},
		&writeback.ThrottledError{RetryAt: time.Now().Add(time.Minute)},
	}}
	var scheduled []jobs.PresenceWriteArgs
	f := newResourceFixture(t, func(*store.Store) Resources {
		return Resources{Writes: Writes{Writer: w, Enqueue: func(_ context.Context, a jobs.PresenceWriteArgs, _ time.Time) error {
			scheduled = append(scheduled, a)
			return nil
		}}}
	})
	f.activate(t)
	user := f.resolved(t, f.tenant, nil, "adele@contoso.example")[0]
	path := "/api/v1/users/" + user.String() + "/presence"
	body := func(av, ac string) string { return `{"availability":"` + av + `","activity":"` + ac + `"}` }

	if code, out := f.do(t, "PUT", path, body("Busy", "InACall")); code != 200 || out["activity"] != "InACall" {
		t.Errorf("a write: %d %v", code, out)
	}
	code, out := f.do(t, "PUT", path, body("Available", "InACall"))
	if b, _ := json.Marshal(out); code != 422 || !strings.Contains(string(b), "Busy/InACall, Available/Available") {
		t.Errorf("a pair Graph refuses: %d %s", code, b)
	}
	if code, out := f.do(t, "PUT", path, body("Busy", "InACall")); code != 409 || !strings.Contains(out["detail"].(string), "Re-consent needed") {
		t.Errorf("without the permission: %d %v", code, out)
	}
	resp, out := f.as(t, f.key, "PUT", "/api/v1/users/adele@contoso.example/presence", body("Busy", "InACall"))
	if resp.StatusCode != 202 || out["kind"] != "presence_write" || len(scheduled) != 1 || scheduled[0].User != user ||
		resp.Header.Get("Location") != "/api/v1/operations/"+out["id"].(string) {
		t.Fatalf("throttled: %d %v %v (scheduled %v)", resp.StatusCode, out, resp.Header, scheduled)
	}
	if code, op := f.do(t, "GET", resp.Header.Get("Location"), ""); code != 200 || op["status"] != "pending" {
		t.Errorf("the accepted write's operation: %d %v", code, op)
	}

	if code, _ := f.do(t, "PUT", "/api/v1/users/"+uuid.NewString()+"/presence", body("Busy", "InACall")); code != 404 {
		t.Errorf("a user not on the roster: %d", code)
	}
	reader := f.keyWith(t, store.ScopePresenceRead, store.ScopeEventsRead)
	if resp, p := f.as(t, reader, "DELETE", path, ""); resp.StatusCode != 403 || !strings.Contains(p["detail"].(string), "presence:write") {
		t.Errorf("a key without presence:write: %d %v", resp.StatusCode, p)
	}
	if len(w.got) != 4 {
		t.Errorf("the writer was called %d times, want 4 (not for the unknown user nor the key without the scope)", len(w.got))
	}
	audit, err := f.st.AuditLog(context.Background(), f.tenant, 10)
	if err != nil || len(audit) != 2 || audit[0].Action != "presence.set" || audit[1].Action != "presence.set" {
		t.Errorf("audit = %+v (%v), want the write and the accepted one", audit, err)
	}
}
