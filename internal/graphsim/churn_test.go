package graphsim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

func ctlCall(t *testing.T, f *fixture, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, f.srv.URL+"/_sim"+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		decodeJSON(t, resp.Body, out)
	}
	return resp.StatusCode
}

func TestChurnFlipsPresenceThroughTheNotificationPath(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))

	if code := ctlCall(t, f, http.MethodPost, "/churn", map[string]any{"users": 0, "rate": 10}, nil); code != http.StatusBadRequest {
		t.Errorf("churn over no users: %d", code)
	}
	var started ChurnStatus
	if code := ctlCall(t, f, http.MethodPost, "/churn", map[string]any{"tenantId": ten.ID.String(), "users": 3, "rate": 200}, &started); code != http.StatusCreated {
		t.Fatalf("start churn: %d", code)
	}
	if started.ID == "" || started.Users != 3 || started.Rate != 200 {
		t.Errorf("churn: %+v", started)
	}
	_, key := testEncryptionCert(t)
	for range 3 {
		for _, n := range decodeCollection(t, rc.next(t).Body).Value {
			if p := decrypt(t, key, n); p["availability"] == "" {
				t.Errorf("churned presence: %v", p)
			}
		}
	}
	var stats NotificationStats
	eventually(t, "deliveries counted", func() bool {
		ctlCall(t, f, http.MethodGet, "/stats", nil, &stats)
		return stats.Delivered >= 3 && stats.LatencyP99 > 0
	})
	var list []ChurnStatus
	ctlCall(t, f, http.MethodGet, "/churn", nil, &list)
	if len(list) != 1 || list[0].Changes == 0 {
		t.Errorf("churn list: %+v", list)
	}
	if code := ctlCall(t, f, http.MethodDelete, "/churn/"+started.ID, nil, nil); code != http.StatusNoContent {
		t.Errorf("stop churn: %d", code)
	}
	if code := ctlCall(t, f, http.MethodDelete, "/churn/"+started.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("stop a stopped churn: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	before := f.sim.NotificationStats().Changes
	time.Sleep(100 * time.Millisecond)
	if after := f.sim.NotificationStats().Changes; after != before {
		t.Errorf("changes went on after the churn stopped: %d → %d", before, after)
	}
}

func TestNotificationFaultControlAPI(t *testing.T) {
	f := newFixture(t)
	var fault NotificationFault
	if code := ctlCall(t, f, http.MethodPost, "/faults/notifications", map[string]any{"notificationUrl": "https://x.example/n", "status": 503, "times": 2}, &fault); code != http.StatusCreated || fault.ID == "" {
		t.Fatalf("add fault: %d %+v", code, fault)
	}
	if code := ctlCall(t, f, http.MethodPost, "/faults/notifications", map[string]any{"status": 42}, nil); code != http.StatusBadRequest {
		t.Errorf("bad status accepted: %d", code)
	}
	if code := ctlCall(t, f, http.MethodPost, "/faults/notifications", map[string]any{"bogus": 1}, nil); code != http.StatusBadRequest {
		t.Errorf("unknown field accepted: %d", code)
	}
	var list []NotificationFault
	ctlCall(t, f, http.MethodGet, "/faults/notifications", nil, &list)
	if len(list) != 1 || list[0].Status != 503 || list[0].Times != 2 {
		t.Errorf("faults: %+v", list)
	}
	if code := ctlCall(t, f, http.MethodDelete, "/faults/notifications/"+fault.ID, nil, nil); code != http.StatusNoContent {
		t.Errorf("delete fault: %d", code)
	}
	if code := ctlCall(t, f, http.MethodDelete, "/faults/notifications/"+fault.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("delete deleted fault: %d", code)
	}
	if code := ctlCall(t, f, http.MethodPost, "/notifications/http-hosts", map[string]any{"hosts": []string{"web"}}, nil); code != http.StatusNoContent {
		t.Errorf("http hosts: %d", code)
	}
	if msg := f.sim.notify.checkURL("notificationUrl", "http://web:8080/graph"); msg != "" {
		t.Errorf("allowed host refused: %s", msg)
	}
	if msg := f.sim.notify.checkURL("notificationUrl", "http://other:8080/graph"); msg == "" {
		t.Error("plain HTTP to another host accepted")
	}
	if code := ctlCall(t, f, http.MethodPost, "/notifications/tick", nil, nil); code != http.StatusNoContent {
		t.Errorf("tick: %d", code)
	}
}

// A churn never moves a person to the state they are in — Graph would
// notify nothing and the churn would fall short of its rate — whatever
// state an earlier churn or a bulk change left them in; from a state
// that is not among its own it may move them to any of them.
func TestChurnMovesAPersonOnlyToAStateOtherThanTheirs(t *testing.T) {
	states := [][2]string{{"Available", "Available"}, {"Busy", "Busy"}, {"Away", "Away"}, {"DoNotDisturb", "DoNotDisturb"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i, st := range states {
		cur := Presence{Availability: st[0], Activity: st[1]}
		reached := map[[2]string]bool{}
		for range 400 {
			next := churnNext(cur, states, rnd)
			if next == st {
				t.Fatalf("a person in %v was moved to it", st)
			}
			reached[next] = true
		}
		if len(reached) != len(states)-1 {
			t.Errorf("from %v (state %d) the churn reached %d of the %d others", st, i, len(reached), len(states)-1)
		}
	}
	reached := map[[2]string]bool{}
	for range 400 {
		reached[churnNext(unseenPresence(uuid.New()), states, rnd)] = true
	}
	if len(reached) != len(states) {
		t.Errorf("from Offline the churn reached %d of its %d states", len(reached), len(states))
	}
}
