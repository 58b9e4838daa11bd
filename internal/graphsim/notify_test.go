package graphsim

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sameShape compares a notification with Microsoft's documented example:
// the same keys at every level and the same JSON types (values differ).
func sameShape(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, documented as an object", path, got)
			return
		}
		var wk, gk []string
		for k := range w {
			if k != "_source" {
				wk = append(wk, k)
			}
		}
		for k := range g {
			gk = append(gk, k)
		}
		slices.Sort(wk)
		slices.Sort(gk)
		if !slices.Equal(wk, gk) {
			t.Errorf("%s: keys %v, documented %v", path, gk, wk)
		}
		for _, k := range wk {
			if v, ok := g[k]; ok {
				sameShape(t, path+"."+k, w[k], v)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) == 0 {
			t.Errorf("%s: got %v, documented as a non-empty array", path, got)
			return
		}
		for i, v := range g {
			sameShape(t, fmt.Sprintf("%s[%d]", path, i), w[0], v)
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: got %T, documented %T", path, got, want)
		}
	}
}

func readExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// verifyValidationToken checks a validation token as a subscriber must
// (docs/graph.md#validation-tokens): signature against the identity platform's JWKS,
// lifetime, audience = app (the app that made the subscription; "": left
// to the caller), appid = Graph change tracking.
func verifyValidationToken(t *testing.T, f *fixture, raw, tenant, app string) jwt.MapClaims {
	t.Helper()
	resp, err := http.Get(f.srv.URL + "/common/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	decodeJSON(t, resp.Body, &set)
	keyfunc := func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid != tok.Header["kid"] {
				continue
			}
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad key %s", k.Kid)
			}
			return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
		}
		return nil, fmt.Errorf("no key %v in the JWKS", tok.Header["kid"])
	}
	claims := jwt.MapClaims{}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("https://sts.windows.net/" + tenant + "/"),
		jwt.WithTimeFunc(f.clock), jwt.WithExpirationRequired(), jwt.WithIssuedAt()}
	if app != "" {
		opts = append(opts, jwt.WithAudience(app))
	}
	_, err = jwt.ParseWithClaims(raw, claims, keyfunc, opts...)
	if err != nil {
		t.Fatalf("validation token does not verify: %v", err)
	}
	if claims["appid"] != ChangeTrackingAppID || claims["appidacr"] != "2" || claims["ver"] != "1.0" || claims["tid"] != tenant {
		t.Errorf("validation token claims: %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if life := exp.Sub(iat.Time); life < 7*time.Hour || life > 9*time.Hour {
		t.Errorf("validation token lives %v, want about 8 h", life)
	}
	return claims
}

func TestRichNotificationHasMicrosoftsShapeDecryptsAndCarriesAValidToken(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	user := ten.Users[1]
	sub := f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))

	if err := f.sim.SetTeamsPresence(user.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	post := rc.next(t)
	if ct := post.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var raw map[string]any
	if err := json.Unmarshal(post.Body, &raw); err != nil {
		t.Fatal(err)
	}
	sameShape(t, "body", readExample(t, "presence-notification-rich.json"), raw)

	c := decodeCollection(t, post.Body)
	if len(c.Value) != 1 {
		t.Fatalf("%d notifications, want 1: %s", len(c.Value), post.Body)
	}
	n := c.Value[0]
	tid := ten.ID.String()
	if n.SubscriptionID != sub.ID || n.ChangeType != "updated" || n.TenantID != tid || n.OrganizationID != tid ||
		n.ClientState == nil || *n.ClientState != "s3cret-client-state" || n.SubscriptionExpirationDateTime != sub.ExpirationDateTime {
		t.Errorf("notification: %s", post.Body)
	}
	if !graphDateTimeRE.MatchString(n.SubscriptionExpirationDateTime) {
		t.Errorf("subscriptionExpirationDateTime %q", n.SubscriptionExpirationDateTime)
	}
	if want := "communications/presences?$filter=id+in+(%27" + user.ID.String() + "%27)"; n.Resource != want {
		t.Errorf("resource %q, want %q", n.Resource, want)
	}
	if rd := n.ResourceData; rd.ID != user.ID.String() || rd.ODataID != "users/"+user.ID.String()+"/presence" ||
		!strings.EqualFold(rd.ODataType, "#microsoft.graph.presence") {
		t.Errorf("resourceData %+v", rd)
	}
	if ec := n.EncryptedContent; ec.EncryptionCertificateID != "bridge-cert-1" || ec.EncryptionCertificateThumbprint != testCertThumb {
		t.Errorf("encryptedContent ids: %q %q, want thumbprint %s", ec.EncryptionCertificateID, ec.EncryptionCertificateThumbprint, testCertThumb)
	}
	_, key := testEncryptionCert(t)
	plain := decrypt(t, key, n)
	sameKeys := readExample(t, "presence-decrypted.json")
	for k := range sameKeys {
		if _, ok := plain[k]; !ok && k != "_source" {
			t.Errorf("decrypted presence lacks documented %q: %v", k, plain)
		}
	}
	if plain["availability"] != "Busy" || plain["activity"] != "InACall" || plain["id"] != user.ID.String() ||
		plain["@odata.type"] != "#microsoft.graph.presence" || plain["@odata.id"] != "users/"+user.ID.String()+"/presence" {
		t.Errorf("decrypted presence: %v", plain)
	}
	if seq, _ := plain["sequenceNumber"].(string); seq == "" {
		t.Errorf("decrypted presence has no sequenceNumber: %v", plain)
	}
	if len(c.ValidationTokens) != 1 {
		t.Fatalf("%d validation tokens, want 1 (one app, one tenant)", len(c.ValidationTokens))
	}
	verifyValidationToken(t, f, c.ValidationTokens[0], tid, f.seed.App.ClientID)

	st := f.sim.NotificationStats()
	eventually(t, "delivery counted", func() bool { st = f.sim.NotificationStats(); return st.Delivered == 1 })
	if st.Changes != 1 || st.Sent != 1 || st.Posts != 1 || st.Retried != 0 || st.LatencyP50 <= 0 {
		t.Errorf("stats %+v", st)
	}
}

// A rich subscription's validation token is issued when the subscription
// is made, not signed on the way to its first notification: the signing
// is the emulator's work, and a load run's first changes after an idle
// spell queued behind a thousand of them (issue 16).
func TestARichSubscriptionsValidationTokenIsIssuedWhenItIsMade(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	made := f.clock()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	f.advance(10 * time.Minute)
	if err := f.sim.SetTeamsPresence(ten.Users[1].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	c := decodeCollection(t, rc.next(t).Body)
	if len(c.ValidationTokens) != 1 {
		t.Fatalf("%d validation tokens, want 1", len(c.ValidationTokens))
	}
	iat, err := verifyValidationToken(t, f, c.ValidationTokens[0], ten.ID.String(), f.seed.App.ClientID).GetIssuedAt()
	if err != nil {
		t.Fatal(err)
	}
	if !iat.Time.Equal(made.Truncate(time.Second)) {
		t.Errorf("the token was issued at %v, want when the subscription was made (%v), not at the change 10 minutes later", iat.Time, made)
	}
}

func TestBasicNotificationCarriesOnlyTheUserID(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	user := ten.Users[0]
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, "communications/presences/"+user.ID.String(), false))
	if err := f.sim.SetTeamsPresence(user.ID, "DoNotDisturb", "Presenting"); err != nil {
		t.Fatal(err)
	}
	post := rc.next(t)
	var raw map[string]any
	if err := json.Unmarshal(post.Body, &raw); err != nil {
		t.Fatal(err)
	}
	sameShape(t, "body", readExample(t, "presence-notification-basic.json"), raw)
	if bytes.Contains(post.Body, []byte("DoNotDisturb")) || bytes.Contains(post.Body, []byte("validationTokens")) {
		t.Errorf("basic notification carries state or tokens: %s", post.Body)
	}
	if n := decodeCollection(t, post.Body).Value[0]; n.Resource != "communications/presences/"+user.ID.String() {
		t.Errorf("resource %q", n.Resource)
	}
	// Other users' changes are not notified.
	if err := f.sim.SetTeamsPresence(ten.Users[1].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.none(t)
}

func TestNotificationsForOneURLShareAPost(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	a := f.subscribe(f.userToken(ten, ten.Monitors[0]), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID, ten.Users[1].ID), true))
	b := f.subscribe(f.userToken(ten, ten.Monitors[1]), f.subRequest(rc.URL, bulkResource(ten.Users[1].ID, ten.Users[2].ID), false))
	// Changes made before the delivery loop runs are dispatched together.
	for _, u := range ten.Users {
		if err := f.sim.SetTeamsPresence(u.ID, "Away", "Away"); err != nil {
			t.Fatal(err)
		}
	}
	startNotifier(t, f)
	c := decodeCollection(t, rc.next(t).Body)
	count := map[string]int{}
	for _, n := range c.Value {
		count[n.SubscriptionID]++
		if (n.EncryptedContent != nil) != (n.SubscriptionID == a.ID) {
			t.Errorf("encryptedContent on %s: %v", n.SubscriptionID, n.EncryptedContent != nil)
		}
	}
	if len(c.Value) != 4 || count[a.ID] != 2 || count[b.ID] != 2 {
		t.Errorf("one POST should carry all four notifications, got %v", count)
	}
	if len(c.ValidationTokens) != 1 {
		t.Errorf("%d validation tokens, want 1", len(c.ValidationTokens))
	}
	rc.none(t)
}

func TestFailedDeliveryIsRetriedWithBackoffThenDelivered(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	rc.answer = func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusAccepted
	}
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), true))
	if err := f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	first := rc.next(t)
	eventually(t, "the failure recorded", func() bool { return f.sim.NotificationStats().Queued == 1 })
	f.advance(29 * time.Second)
	f.sim.TickNotifications()
	rc.none(t)
	f.advance(time.Second)
	f.sim.TickNotifications()
	second := rc.next(t)
	if !bytes.Equal(first.Body, second.Body) {
		t.Error("the retry is not the same POST")
	}
	eventually(t, "delivery", func() bool { return f.sim.NotificationStats().Delivered == 1 })
	if st := f.sim.NotificationStats(); st.Retried != 1 || st.Posts != 2 || st.Queued != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetriesStopAfterFourHours(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	rc.answer = func(int) int { return http.StatusServiceUnavailable }
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	sub := f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	if err := f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.next(t)
	start := f.clock()
	posts := 1
	// Keep the subscription alive while Graph retries (retries do not
	// depend on it, but a live subscription is the realistic case).
	for f.clock().Sub(start) < 5*time.Hour {
		eventually(t, "the attempt to finish", func() bool { return f.sim.NotificationStats().InFlight == 0 })
		f.advance(5 * time.Minute)
		f.sim.TickNotifications()
		eventually(t, "the attempt to start or end", func() bool {
			st := f.sim.NotificationStats()
			return st.Posts+st.Expired >= int64(posts) // nothing, a new POST, or given up
		})
		select {
		case <-rc.got:
			posts++
			if f.clock().Sub(start) > retryFor+5*time.Minute {
				t.Fatalf("a retry %v after the first attempt", f.clock().Sub(start))
			}
		case <-time.After(20 * time.Millisecond):
		}
		_ = sub
	}
	st := f.sim.NotificationStats()
	if st.Expired != 1 || st.Dropped != 1 || st.Delivered != 0 || st.Queued != 0 {
		t.Errorf("after 5 h: %+v", st)
	}
	// 30 s, 1, 2, 4, 8, 16 min, then every 30 min until 4 h: about a dozen attempts.
	if posts < 9 || posts > 14 {
		t.Errorf("%d attempts in 4 h, want exponential back-off (about 12)", posts)
	}
}

// slowEndpoint subscribes a receiver to users 0 and 2 and has it answer
// ten notifications of user 0 in 3.5 s each: over Graph's 3 s, so the
// endpoint is judged slow.
func slowEndpoint(t *testing.T) (*fixture, *receiver, SeedTenant) {
	t.Helper()
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID, ten.Users[2].ID), false))
	// The endpoint answers, but 3.5 s late: every answer is over 3 s.
	if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, LatencyMS: 3500, Times: 10}); err != nil {
		t.Fatal(err)
	}
	states := [][2]string{{"Busy", "InACall"}, {"Away", "Away"}}
	for i := range 10 {
		st := states[i%2]
		if err := f.sim.SetTeamsPresence(ten.Users[0].ID, st[0], st[1]); err != nil {
			t.Fatal(err)
		}
		rc.next(t)
		eventually(t, "the answer recorded", func() bool { return f.sim.NotificationStats().InFlight == 0 })
	}
	return f, rc, ten
}

func TestSlowEndpointGetsNewNotificationsTenMinutesLate(t *testing.T) {
	f, rc, ten := slowEndpoint(t)
	if st := f.sim.NotificationStats(); st.SlowEndpoints != 1 || st.Delivered != 0 {
		t.Fatalf("after 10 slow answers: %+v", st)
	}
	if err := f.sim.SetTeamsPresence(ten.Users[2].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.none(t)
	f.advance(9 * time.Minute)
	f.sim.TickNotifications()
	// The timed-out POSTs are retried now (they were due after 30 s), but
	// the new change is still held.
	for range 10 {
		if c := decodeCollection(t, rc.next(t).Body); c.Value[0].ResourceData.ID == ten.Users[2].ID.String() {
			t.Fatal("the new notification arrived before its 10-minute delay")
		}
	}
	rc.none(t)
	f.advance(time.Minute)
	f.sim.TickNotifications()
	if c := decodeCollection(t, rc.next(t).Body); c.Value[0].ResourceData.ID != ten.Users[2].ID.String() {
		t.Fatalf("after 10 minutes: %+v", c.Value)
	}
}

func TestDroppingEndpointLosesNotificationsForTenMinutes(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID, ten.Users[2].ID), false))
	// Every answer takes 11 s: first attempts time out at 3 s, retries at 10 s.
	if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, LatencyMS: 11_000}); err != nil {
		t.Fatal(err)
	}
	states := [][2]string{{"Busy", "InACall"}, {"Away", "Away"}}
	for i := range 10 {
		if err := f.sim.SetTeamsPresence(ten.Users[0].ID, states[i%2][0], states[i%2][1]); err != nil {
			t.Fatal(err)
		}
		rc.next(t)
		eventually(t, "the answer recorded", func() bool { return f.sim.NotificationStats().InFlight == 0 })
	}
	// Ten slow first attempts: slow. Their retries, over 10 s: dropping.
	f.advance(31 * time.Second)
	f.sim.TickNotifications()
	for range 10 {
		rc.next(t)
	}
	eventually(t, "the endpoint to drop", func() bool { return f.sim.NotificationStats().DroppingEndpoints == 1 })
	before := f.sim.NotificationStats().Dropped
	if err := f.sim.SetTeamsPresence(ten.Users[2].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drop counted", func() bool { return f.sim.NotificationStats().Dropped == before+1 })
	rc.none(t)
}

func TestNotificationFaultsDropAndFail(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	sub := f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	if _, err := f.sim.AddNotificationFault(NotificationFault{SubscriptionID: sub.ID, Drop: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall")
	rc.none(t)
	if st := f.sim.NotificationStats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want 1", st.Dropped)
	}
	if len(f.sim.NotificationFaults()) != 0 {
		t.Error("a spent drop fault is still listed")
	}
	// A status fault: the POST counts as a 500 and is retried.
	if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, Status: 500, Times: 1}); err != nil {
		t.Fatal(err)
	}
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Away", "Away")
	rc.none(t)
	f.advance(30 * time.Second)
	f.sim.TickNotifications()
	rc.next(t)
	eventually(t, "delivery", func() bool { return f.sim.NotificationStats().Delivered == 1 })
	if _, err := f.sim.AddNotificationFault(NotificationFault{}); err == nil {
		t.Error("an empty fault was accepted")
	}
}

func TestAForgivenEndpointGetsNewNotificationsAtOnceAndWhatItsPenaltyHeld(t *testing.T) {
	f, rc, ten := slowEndpoint(t)
	if st := f.sim.NotificationStats(); st.SlowEndpoints != 1 {
		t.Fatalf("after 10 slow answers: %+v", st)
	}
	if err := f.sim.SetTeamsPresence(ten.Users[2].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.none(t) // held for 10 minutes
	if n := f.sim.ForgiveEndpoints(); n != 1 {
		t.Fatalf("forgave %d endpoints, want the slow one", n)
	}
	if st := f.sim.NotificationStats(); st.SlowEndpoints != 0 {
		t.Fatalf("after forgiving: %+v", st)
	}
	if c := decodeCollection(t, rc.next(t).Body); c.Value[0].ResourceData.ID != ten.Users[2].ID.String() {
		t.Fatalf("what the penalty held: %+v", c.Value)
	}
	if err := f.sim.SetTeamsPresence(ten.Users[2].ID, "Away", "Away"); err != nil {
		t.Fatal(err)
	}
	if c := decodeCollection(t, rc.next(t).Body); c.Value[0].ResourceData.ID != ten.Users[2].ID.String() {
		t.Fatalf("a new change after forgiving: %+v", c.Value)
	}
}
