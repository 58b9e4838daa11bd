package graphhook

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/store"
)

// Hostile input at Graph's door, without a database: the subscriptions
// and the inbox are in memory (fuzzSubs, fuzzInbox), so a million POSTs
// take minutes; the database's part is graphhook_test.go's.

// fuzzSubs knows "sub-1" (clientState "state-1") and one subscription
// being created (clientState "state-2"), found as store.SubscriptionKeys
// finds them: by Graph id, else by the hash of a being-created one's
// clientState.
type fuzzSubs struct{}

var (
	fuzzTenant  = uuid.MustParse("72f988bf-86f1-41af-91ab-2d7cd011db47")
	fuzzSub1    = uuid.MustParse("7f105c7d-2dc5-4530-97cd-4e7ae6534c07")
	fuzzCreated = uuid.MustParse("0d2a6e7c-3c1a-4a3e-9a55-1f6b2d7e8c90")
)

func (fuzzSubs) SubscriptionKeys(_ context.Context, queries []store.SubscriptionQuery) ([]store.SubscriptionKey, error) {
	keys := make([]store.SubscriptionKey, len(queries))
	for i, q := range queries {
		switch {
		case q.GraphID == "sub-1":
			keys[i] = store.SubscriptionKey{ID: fuzzSub1, TenantID: fuzzTenant, GraphID: "sub-1", ClientStateHash: store.ClientStateHash("state-1")}
		case bytes.Equal(q.ClientStateHash, store.ClientStateHash("state-2")):
			keys[i] = store.SubscriptionKey{ID: fuzzCreated, TenantID: fuzzTenant, ClientStateHash: store.ClientStateHash("state-2")}
		}
	}
	return keys, nil
}

// fuzzInbox keeps what the receiver commits.
type fuzzInbox struct {
	mu   sync.Mutex
	rows []intake.Row
}

func (x *fuzzInbox) Commit(_ context.Context, row intake.Row) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rows = append(x.rows, row)
	return nil
}

func (x *fuzzInbox) take() []intake.Row {
	x.mu.Lock()
	defer x.mu.Unlock()
	rows := x.rows
	x.rows = nil
	return rows
}

func fuzzReceiver() (http.Handler, *fuzzInbox) {
	inbox := &fuzzInbox{}
	r := chi.NewRouter()
	r.Route("/graph", New(Deps{Subs: fuzzSubs{}, Committer: inbox}).Routes)
	return r, inbox
}

// FuzzValidationHandshake: a POST with ?validationToken= is answered 200
// with exactly the decoded token as text/plain (nosniff), whatever else
// the query or body hold, and with no other header; a token over 4 KiB is
// 400; nothing reaches the inbox.
func FuzzValidationHandshake(f *testing.F) {
	h, inbox := fuzzReceiver()
	f.Add("Validation: Testing client+app<", "", []byte(nil), false)
	f.Add("Validation: Testing client application communication", "x=1", []byte(`{"value":[]}`), true)
	f.Add("", "", []byte(nil), false)
	f.Add("<script>alert(1)</script>\r\nSet-Cookie: a=b", "validationToken=second", []byte(nil), false)
	f.Add(strings.Repeat("t", 4097), "", []byte(nil), true)
	f.Add("%zz\x00\xff", ";a=b", []byte(nil), false)
	f.Fuzz(func(t *testing.T, token, extra string, body []byte, lifecycle bool) {
		path := "/graph/notifications"
		if lifecycle {
			path = "/graph/lifecycle"
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.URL.RawQuery = "validationToken=" + url.QueryEscape(token) + "&" + extra
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rows := inbox.take(); len(rows) > 0 {
			t.Fatalf("a handshake committed %d rows", len(rows))
		}
		if len(token) > 4096 {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: a token of %d bytes answered %d, want 400", path, len(token), rec.Code)
			}
			return
		}
		switch headers := slices.Sorted(maps.Keys(rec.Header())); {
		case rec.Code != http.StatusOK || rec.Body.String() != token:
			t.Fatalf("%s: answered %d %q, want 200 and the token %q", path, rec.Code, rec.Body.String(), token)
		case rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" || rec.Header().Get("X-Content-Type-Options") != "nosniff":
			t.Fatalf("%s: the token is echoed as %q (nosniff %q)", path, rec.Header().Get("Content-Type"), rec.Header().Get("X-Content-Type-Options"))
		case !slices.Equal(headers, []string{"Content-Type", "X-Content-Type-Options"}):
			t.Fatalf("%s: the handshake set headers %v", path, headers)
		}
	})
}

// FuzzNotificationPOST: whatever its body, a POST is answered 202, 400 or
// 413, never 5xx while the inbox works. A 202 commits exactly the items
// that name a known subscription with its clientState (or the
// clientState of one being created) and that the door keeps (doorKeeps:
// storable.go says why it refuses the rest), change and lifecycle items apart,
// with the POST's validation tokens, in payloads the intake's parser reads
// back item for item; anything else commits nothing.
func FuzzNotificationPOST(f *testing.F) {
	h, inbox := fuzzReceiver()
	item := func(sub, state, user string) string {
		return `{"subscriptionId":"` + sub + `","clientState":"` + state + `","changeType":"updated","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47",` +
			`"resource":"communications/presences/` + user + `","subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z",` +
			`"resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/` + user + `/presence","id":"` + user + `"}}`
	}
	lifecycle := `{"subscriptionId":"sub-1","clientState":"state-1","lifecycleEvent":"reauthorizationRequired","tenantId":"t","subscriptionExpirationDateTime":"2026-11-23T10:00:00Z"}`
	for _, body := range []string{
		`{"value":[` + item("sub-1", "state-1", "u1") + `,` + item("sub-1", "forged", "u2") + `,` + item("sub-9", "state-1", "u3") + `,` +
			item("sub-new", "state-2", "u4") + `,` + item("sub-1", "", "u5") + `,` + lifecycle + `,"not an object"],"validationTokens":["a.b.c"]}`,
		`{"value":[` + item("sub-1", "state-1", "u1") + `]}`,
		`{"value":[` + lifecycle + `]}`,
		`{"value":[{"subscriptionId":"sub-1","clientState":"state-1","subscriptionExpirationDateTime":"yesterday"}]}`,
		`{"value":[]}`, `{"value":null}`, `{`, `[]`, ``,
	} {
		f.Add([]byte(body))
	}
	// The shapes the single decode and split must read as the item by item parse does.
	for _, body := range bodyShapes {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/graph/notifications", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		rows := inbox.take()
		var sent struct {
			Value            []json.RawMessage `json:"value"`
			ValidationTokens []string          `json:"validationTokens"`
		}
		if json.Unmarshal(body, &sent) != nil || sent.Value == nil || len(sent.Value) > MaxItems {
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge || len(rows) > 0 {
				t.Fatalf("a body that is no collection within the limits answered %d and committed %d rows", rec.Code, len(rows))
			}
			return
		}
		if rec.Code != http.StatusAccepted {
			t.Fatalf("a collection answered %d %q, want 202", rec.Code, rec.Body.String())
		}
		want := map[string][]string{}
		for _, raw := range sent.Value {
			var n notification.Notification
			if json.Unmarshal(raw, &n) != nil || !genuine(n) || !doorKeeps(raw) {
				continue
			}
			kind := "change"
			if n.LifecycleEvent != "" {
				kind = "lifecycle"
			}
			stored, _ := json.Marshal(raw) // compacted, as the receiver stores it
			want[kind] = append(want[kind], string(stored))
		}
		got := map[string][]string{}
		for _, row := range rows {
			if _, twice := got[row.Kind]; twice || row.Kind != "change" && row.Kind != "lifecycle" {
				t.Fatalf("committed a second or unknown row of kind %q", row.Kind)
			}
			c, err := notification.Parse(row.Payload)
			if err != nil || len(c.Value) != row.Items || !slices.Equal(c.ValidationTokens, sent.ValidationTokens) {
				t.Fatalf("committed %d items the intake reads as %d (%v), tokens %q of %q", row.Items, len(c.Value), err, c.ValidationTokens, sent.ValidationTokens)
			}
			var stored struct{ Value []json.RawMessage }
			json.Unmarshal(row.Payload, &stored)
			got[row.Kind] = []string{}
			for _, raw := range stored.Value {
				got[row.Kind] = append(got[row.Kind], string(raw))
			}
		}
		for _, kind := range []string{"change", "lifecycle"} {
			if !slices.Equal(got[kind], want[kind]) {
				t.Fatalf("%s items committed:\n%q\nwant:\n%q", kind, got[kind], want[kind])
			}
		}
	})
}

// genuine says whether an item names a known subscription with its
// clientState, or the clientState of the subscription being created under
// an id not yet stored.
func genuine(n notification.Notification) bool {
	switch {
	case n.SubscriptionID == "" || n.ClientState == "":
		return false
	case n.SubscriptionID == "sub-1":
		return n.ClientState == "state-1"
	default:
		return n.ClientState == "state-2"
	}
}

// doorKeeps says whether an item (valid JSON to encoding/json) is one the
// door stores rather than refuses as unstorable or ambiguous, found
// otherwise than the receiver finds it (storable.go): UTF-8, no
// NUL in any decoded key or string, no two keys of an object equal under
// strings.EqualFold but not equal, no surrogate escape left unpaired once
// escaped backslashes are set aside, no number past a double's exponent
// (past ±308) or of more than 64 characters.
func doorKeeps(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	plain := escapedBackslash.ReplaceAll(raw, []byte("__"))
	if loneSurrogate.Match(surrogatePair.ReplaceAll(plain, nil)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var objects [][]string // keys of the objects open; nil for arrays
	key := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return true // the end: valid, as its item decoded
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				objects = append(objects, []string{})
				key = true
				continue
			case '[':
				objects = append(objects, nil)
			default:
				objects = objects[:len(objects)-1]
			}
		case string:
			if strings.ContainsRune(v, 0) {
				return false
			}
			if key {
				for _, k := range objects[len(objects)-1] {
					if k != v && strings.EqualFold(k, v) {
						return false
					}
				}
				objects[len(objects)-1] = append(objects[len(objects)-1], v)
				key = false
				continue
			}
		case json.Number:
			if len(v) > 64 || bigExponent(v) {
				return false
			}
		}
		key = len(objects) > 0 && objects[len(objects)-1] != nil
	}
}

var (
	escapedBackslash = regexp.MustCompile(`\\\\`)
	surrogatePair    = regexp.MustCompile(`\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}`)
	loneSurrogate    = regexp.MustCompile(`\\u[dD][89a-fA-F]`)
)

// bigExponent: the number's exponent is past ±308, a double's.
func bigExponent(n json.Number) bool {
	e := strings.IndexAny(string(n), "eE")
	if e < 0 {
		return false
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(string(n[e+1:]), "+"))
	return err != nil || exp > 308 || exp < -308
}
