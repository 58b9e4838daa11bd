package graphsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// Throttling at Microsoft's documented rates (docs/graph.md#throttling), as token
// buckets (golang.org/x/time/rate: a bucket of the window's size refilled
// at the window's rate is how Graph's own limits behave for a client that
// spreads its calls), keyed by app and tenant. A throttled request gets
// 429 with Retry-After and the TooManyRequests body (docs/graph.md#throttling).

type throttleClass int

const (
	classGlobal            throttleClass = iota // 130,000 requests / 10 s per app, all tenants
	classPresence                               // 1,500 / 30 s per app per tenant
	classSubscriptionWrite                      // 1,000 / 20 s per app per tenant (POST, PATCH, DELETE)
	classSubscriptionAny                        // 5,000 / 20 s per app per tenant
	classDirectory                              // users, groups, applications: a generous directory budget
)

var classNames = map[throttleClass]string{
	classGlobal: "global", classPresence: "presence", classSubscriptionWrite: "subscriptionWrite",
	classSubscriptionAny: "subscription", classDirectory: "directory",
}

// ThrottleLimit is one documented limit: Requests per Window.
type ThrottleLimit struct {
	Requests int           `json:"requests"`
	Window   time.Duration `json:"window"`
}

// DefaultLimits are Microsoft's documented limits.
var DefaultLimits = map[string]ThrottleLimit{
	"global":            {130_000, 10 * time.Second},
	"presence":          {1_500, 30 * time.Second},
	"subscriptionWrite": {1_000, 20 * time.Second},
	"subscription":      {5_000, 20 * time.Second},
	"directory":         {3_500, 10 * time.Second},
}

// ThrottleFault is a 429 storm or a slow Graph: every matching request is
// delayed by DelayMS, then, when RetryAfter or Status is set, refused with
// Status (429 by default) and Retry-After — until Times requests were hit
// (0: until removed).
type ThrottleFault struct {
	ID         string `json:"id"`
	AppID      string `json:"appId,omitempty"`
	TenantID   string `json:"tenantId,omitempty"`
	Class      string `json:"class,omitempty"` // global, presence, subscriptionWrite, subscription, directory; empty: all
	RetryAfter int    `json:"retryAfterSeconds,omitempty"`
	Status     int    `json:"status,omitempty"` // 429 (default), 503 or 504
	DelayMS    int    `json:"delayMs,omitempty"`
	Times      int    `json:"times,omitempty"`
}

type throttler struct {
	mu      sync.Mutex
	limits  map[throttleClass]ThrottleLimit
	buckets map[throttleKey]*rate.Limiter
	storms  []*ThrottleFault
	count   map[string]int64 // throttled responses by class name
}

type throttleKey struct {
	class  throttleClass
	app    string
	tenant uuid.UUID
}

func newThrottler() *throttler {
	t := &throttler{limits: map[throttleClass]ThrottleLimit{}, buckets: map[throttleKey]*rate.Limiter{}, count: map[string]int64{}}
	for c, name := range classNames {
		t.limits[c] = DefaultLimits[name]
	}
	return t
}

// setLimit changes a class's limit (tests use small ones); existing
// buckets are replaced.
func (t *throttler) setLimit(name string, l ThrottleLimit) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, n := range classNames {
		if n == name {
			if l.Requests <= 0 || l.Window <= 0 {
				return fmt.Errorf("limit %s needs requests > 0 and a window > 0", name)
			}
			t.limits[c] = l
			for k := range t.buckets {
				if k.class == c {
					delete(t.buckets, k)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("no throttling class %q", name)
}

// verdict is what the throttler decided about one request.
type verdict struct {
	ok         bool
	hold       time.Duration // latency to add before answering
	retryAfter time.Duration // for refusals
	status     int           // 429, 503 or 504 for refusals
}

// take spends one request of class for (app, tenant) at now.
func (t *throttler) take(c throttleClass, app string, tenant uuid.UUID, now time.Time) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := classNames[c]
	for i, f := range t.storms {
		if (f.AppID != "" && !strings.EqualFold(f.AppID, app)) || (f.TenantID != "" && !strings.EqualFold(f.TenantID, tenant.String())) ||
			(f.Class != "" && f.Class != name) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				t.storms = append(t.storms[:i], t.storms[i+1:]...)
			}
		}
		v := verdict{hold: time.Duration(f.DelayMS) * time.Millisecond}
		if f.Status == 0 && f.RetryAfter == 0 {
			v.ok = true // latency only
			return v
		}
		t.count[name]++
		v.status, v.retryAfter = f.Status, time.Duration(f.RetryAfter)*time.Second
		if v.status == 0 {
			v.status = http.StatusTooManyRequests
		}
		return v
	}
	if c == classGlobal {
		tenant = uuid.Nil // the global budget is per app across tenants
	}
	k := throttleKey{c, app, tenant}
	b := t.buckets[k]
	if b == nil {
		l := t.limits[c]
		b = rate.NewLimiter(rate.Limit(float64(l.Requests)/l.Window.Seconds()), l.Requests)
		b.SetBurstAt(now, l.Requests)
		t.buckets[k] = b
	}
	if b.AllowN(now, 1) {
		return verdict{ok: true}
	}
	r := b.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	t.count[name]++
	return verdict{retryAfter: wait, status: http.StatusTooManyRequests}
}

func (t *throttler) addStorm(f ThrottleFault) ThrottleFault {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	t.storms = append(t.storms, &f)
	return f
}

func (t *throttler) removeStorm(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, f := range t.storms {
		if f.ID == id {
			t.storms = append(t.storms[:i], t.storms[i+1:]...)
			return true
		}
	}
	return false
}

func (t *throttler) listStorms() []ThrottleFault {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ThrottleFault, 0, len(t.storms))
	for _, f := range t.storms {
		out = append(out, *f)
	}
	return out
}

func (t *throttler) throttled() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.count))
	for k, v := range t.count {
		out[k] = v
	}
	return out
}

// admit spends the caller's budget for class, or answers 429 (or the
// storm's 503/504) with Retry-After and reports false.
func (s *Sim) admit(w http.ResponseWriter, r *http.Request, p *Principal, c throttleClass) bool {
	v := s.throttle.take(c, p.AppID, p.TenantID, s.clock())
	if v.hold > 0 {
		select {
		case <-time.After(v.hold):
		case <-r.Context().Done():
			return false
		}
	}
	if v.ok {
		return true
	}
	status := v.status
	secs := int(math.Ceil(v.retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if status == http.StatusTooManyRequests {
		writeGraphErrorInner(w, r, status, "TooManyRequests", "Too many requests",
			map[string]any{"code": "429", "message": "Please retry after", "status": "429"})
		return false
	}
	writeGraphError(w, r, status, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after the time in the Retry-After header.")
	return false
}
