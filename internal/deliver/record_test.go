package deliver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRecords is a recorder's database: it keeps each statement's ids.
type fakeRecords struct {
	mu    sync.Mutex
	calls [][]int64
	done  chan struct{} // one value per statement
}

func (f *fakeRecords) record(_ context.Context, ids []int64, _ []time.Time, _ []int32) (bool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]int64(nil), ids...))
	f.mu.Unlock()
	f.done <- struct{}{}
	return false, nil
}

func startRecorder(t *testing.T, sending func() bool, wait time.Duration) (*recorder, *fakeRecords) {
	t.Helper()
	f := &fakeRecords{done: make(chan struct{}, 100)}
	r := &recorder{record: f.record, sending: sending, wait: wait, in: make(chan success, 1024), next: make(chan struct{}, 1),
		stopped: make(chan struct{}), onError: func(err error, n int) { t.Errorf("recording %d failed: %v", n, err) }}
	go r.run(context.Background())
	t.Cleanup(r.stop)
	return r, f
}

func (f *fakeRecords) await(t *testing.T) []int64 {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		t.Fatal("no record within 5 s")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

func TestSuccessesOfSendsStillOnTheWireAreRecordedInOneStatement(t *testing.T) {
	var onTheWire atomic.Int32
	onTheWire.Store(5)
	r, f := startRecorder(t, func() bool { return onTheWire.Load() > 0 }, time.Hour)
	for i := range 5 {
		onTheWire.Add(-1) // as send does: release, then queue the success
		r.in <- success{id: int64(i + 1), lease: time.Now(), status: 204}
		time.Sleep(time.Millisecond)
	}
	if got := f.await(t); len(got) != 5 {
		t.Fatalf("the first statement recorded %v, want the 5 deliveries of the claim", got)
	}
}

func TestASuccessIsRecordedAtOnceWhenNothingElseIsBeingSent(t *testing.T) {
	r, f := startRecorder(t, func() bool { return false }, time.Hour)
	r.in <- success{id: 1, lease: time.Now(), status: 204}
	if got := f.await(t); len(got) != 1 || got[0] != 1 {
		t.Fatalf("recorded %v, want [1]", got)
	}
}

func TestASendThatHangsDoesNotHoldBackAnotherDeliverysRecordPastTheWait(t *testing.T) {
	r, f := startRecorder(t, func() bool { return true }, 10*time.Millisecond)
	r.in <- success{id: 1, lease: time.Now(), status: 204}
	if got := f.await(t); len(got) != 1 || got[0] != 1 {
		t.Fatalf("recorded %v, want [1]", got)
	}
}
