package graphhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
	"presencebridge/internal/stream"
)

// BenchmarkEndToEndLatencyAt1000: the whole path in one process on a
// durable PostgreSQL — Graph's POST (rich, encrypted, with a validation
// token) → receiver → inbox → processor (token check, decryption, mapping)
// → outbox → signed webhook at a local receiver — at 1,000 changes/s (100
// POSTs/s of 10 items) for 5 s. Reports latency from the POST's start to
// the webhook's arrival.
func BenchmarkEndToEndLatencyAt1000(b *testing.B) {
	pool := durableServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	k, _ := seal.GenerateKey("k1")
	ring, _ := seal.NewRing([]seal.Key{k}, "k1")
	st := store.New(pool, ring)
	msTenant, appID := uuid.New(), uuid.NewString()
	var tenant uuid.UUID
	pool.QueryRow(ctx, `INSERT INTO tenants (name, ms_tenant_id) VALUES ('Bench', $1) RETURNING id`, msTenant).Scan(&tenant)
	m, _ := st.AddMonitor(ctx, pool, tenant, "m@bench.example")
	pool.Exec(ctx, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, 'sub-1', 'r', $3)`,
		tenant, m.ID, store.ClientStateHash("state-1"))

	// The platform's webhook receiver.
	var mu sync.Mutex
	arrived := map[uuid.UUID]time.Time{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev presence.Event
		json.Unmarshal(body, &ev)
		mu.Lock()
		arrived[ev.Data.User.ObjectID] = time.Now()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(hook.Close)
	secret, _ := deliver.NewSecret()
	sid, _ := st.PutSecret(ctx, pool, &tenant, store.PurposeSigningSecret, []byte(secret))
	pool.Exec(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3)`, tenant, hook.URL, sid)

	// Microsoft's side: signing keys for validation tokens, our encryption key.
	signKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "s1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(signKey.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(signKey.E)).Bytes())}}})
	}))
	b.Cleanup(jwks.Close)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": appID, "iss": "https://sts.windows.net/" + msTenant.String() + "/",
		"exp": time.Now().Add(time.Hour).Unix(), "appid": notification.ChangeTrackingAppID, "tid": msTenant.String(), "ver": "1.0"})
	tok.Header["kid"] = "s1"
	validationToken, _ := tok.SignedString(signKey)
	encKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pb"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &encKey.PublicKey, encKey)
	cert, _ := x509.ParseCertificate(der)
	key := notification.Key{ID: "cert-1", Certificate: cert, Private: encKey}

	// Our side: receiver, processor and deliverer, woken by NOTIFY.
	hub := stream.NewHub(pool, nil)
	go hub.Run(ctx)
	committer := intake.NewCommitter(pool, intake.CommitterOptions{})
	go committer.Run(ctx)
	rt := chi.NewRouter()
	rt.Route("/graph", New(Deps{DB: pool, Subs: st, Committer: committer}).Routes)
	receiver := httptest.NewServer(rt)
	b.Cleanup(receiver.Close)
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: jwks.URL, Audiences: []string{appID}})
	if err != nil {
		b.Fatal(err)
	}
	proc := intake.NewProcessor(st, intake.ProcessorOptions{Keys: notification.NewKeys(key), Tokens: validator})
	for range 2 { // as the worker role runs them: one per core
		inbox, _ := hub.SubscribeInbox()
		go func() {
			for {
				proc.Drain(ctx)
				select {
				case <-ctx.Done():
					return
				case <-inbox:
				case <-time.After(time.Second):
				}
			}
		}()
	}
	changes, _ := hub.SubscribeChanges()
	go deliver.New(st, deliver.Options{AllowPrivate: true, Wake: changes}).Run(ctx, time.Second)

	// Encrypt ahead of time: Graph's work is not ours to measure.
	const posts, perPost = 500, 10
	bodies := make([][]byte, posts)
	users := make([][]uuid.UUID, posts)
	for i := range bodies {
		var items []map[string]any
		for range perPost {
			u := uuid.New()
			users[i] = append(users[i], u)
			plain, _ := json.Marshal(map[string]any{"@odata.type": "#microsoft.graph.presence", "id": u, "availability": "Busy", "activity": "InACall", "sequenceNumber": "1"})
			ec, _ := notification.Encrypt(key, plain)
			items = append(items, map[string]any{"subscriptionId": "sub-1", "subscriptionExpirationDateTime": "2026-11-23T10:00:00.0000000Z",
				"changeType": "updated", "clientState": "state-1", "tenantId": msTenant, "resource": "communications/presences/" + u.String(),
				"resourceData":     map[string]any{"@odata.type": "#Microsoft.Graph.presence", "@odata.id": "users/" + u.String() + "/presence", "id": u},
				"encryptedContent": ec})
		}
		bodies[i], _ = json.Marshal(map[string]any{"value": items, "validationTokens": []string{validationToken}})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for b.Loop() {
		sent := make([]time.Time, posts)
		tick := time.NewTicker(10 * time.Millisecond)
		var wg sync.WaitGroup
		for i := range posts {
			<-tick.C
			sent[i] = time.Now()
			wg.Go(func() {
				resp, err := client.Post(receiver.URL+"/graph/notifications", "application/json", bytes.NewReader(bodies[i]))
				if err != nil || resp.StatusCode != http.StatusAccepted {
					b.Errorf("POST: %v", err)
					return
				}
				resp.Body.Close()
			})
		}
		tick.Stop()
		wg.Wait()
		b.Logf("sending took %v", time.Since(sent[0]))
		deadline := time.Now().Add(30 * time.Second)
		loggedEvents := false
		for {
			var events int
			pool.QueryRow(ctx, `SELECT count(*) FROM presence_events`).Scan(&events)
			if events == posts*perPost && !loggedEvents {
				b.Logf("all events recorded %v after the first send", time.Since(sent[0]))
				loggedEvents = true
			}
			mu.Lock()
			n := len(arrived)
			mu.Unlock()
			if n == posts*perPost {
				b.Logf("all webhooks arrived %v after the first send", time.Since(sent[0]))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d changes reached the webhook", n, posts*perPost)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var lat []time.Duration
		for i, us := range users {
			for _, u := range us {
				lat = append(lat, arrived[u].Sub(sent[i]))
			}
		}
		var stages string
		pool.QueryRow(ctx, `SELECT format('event-after-first-send p50 %s; delivery delay p50 %s p99 %s',
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.created_at - $1::timestamptz)),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.created_at)),
			percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - e.created_at)))
			FROM presence_events e JOIN deliveries d ON d.event_id = e.id`, sent[0]).Scan(&stages)
		b.Log(stages)
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
