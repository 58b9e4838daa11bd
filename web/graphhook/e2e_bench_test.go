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
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/activity"
	"presencebridge/internal/deliver"
	"presencebridge/internal/intake"
	"presencebridge/internal/notification"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/stream"
	"presencebridge/internal/testkit"
)

// BenchmarkEndToEndLatencyAt1000: the whole path in one process on a
// durable PostgreSQL — Graph's POST (rich, encrypted, with a validation
// token) → receiver → inbox → processor (token check, decryption, mapping)
// → outbox → signed webhook at a local receiver — at 1,000 changes/s (100
// POSTs/s of 10 items) for 5 s. Reports latency from the POST's start to
// the webhook's arrival.
func BenchmarkEndToEndLatencyAt1000(b *testing.B) {
	endToEndAt1000(b, durableServer(b))
}

func endToEndAt1000(b *testing.B, pool *pgxpool.Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	st := storetest.Open(b, pool)
	msTenant, appID := uuid.New(), uuid.NewString()
	tenant := storetest.Tenant(b, pool, "Bench")
	testkit.Exec(b, pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, tenant, msTenant)
	m, err := st.AddMonitor(ctx, tenant, "m@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	testkit.Exec(b, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, 'sub-1', 'r', $3)`,
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
	sid, err := st.PutSecret(ctx, &tenant, store.PurposeSigningSecret, []byte(secret))
	if err != nil {
		b.Fatal(err)
	}
	testkit.Exec(b, pool, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, $2, $3)`, tenant, hook.URL, sid)

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
	// Failures are shown: a benchmark whose pipeline errs measures nothing.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hub := stream.NewHub(st, logger)
	go hub.Run(ctx)
	committer := intake.NewCommitter(pool, intake.CommitterOptions{})
	go committer.Run(ctx)
	rt := chi.NewRouter()
	rt.Route("/graph", New(Deps{Subs: st, Committer: committer}).Routes)
	receiver := httptest.NewServer(rt)
	b.Cleanup(receiver.Close)
	validator, err := notification.NewValidator(ctx, notification.ValidatorOptions{LoginURL: jwks.URL, Audiences: []string{appID}})
	if err != nil {
		b.Fatal(err)
	}
	// The per-tenant figures are recorded as the worker role records them.
	counts := activity.NewRecorder(st, activity.Options{Logger: logger})
	counted := make(chan struct{})
	go func() { counts.Run(ctx); close(counted) }()
	b.Cleanup(func() { cancel(); <-counted }) // its last write before the pool closes
	proc := intake.NewProcessor(st, intake.ProcessorOptions{Keys: notification.NewKeys(key), Tokens: validator, Logger: logger,
		Activity: counts})
	for range 2 { // as the worker role runs them: one per core
		inbox, _ := hub.SubscribeInbox()
		go func() {
			for {
				if _, err := proc.Drain(ctx); err != nil && ctx.Err() == nil {
					logger.Error("processor", "err", err)
				}
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
	go deliver.New(st, deliver.Options{AllowPrivate: true, Wake: changes, Logger: logger, Activity: counts}).Run(ctx, time.Second)

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
	// The database was created a moment ago: its files (initdb, schema,
	// seed) go to disk now, not during the measured window, as they would
	// long before on a database in service.
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
	syscall.Sync()
	if statementsWanted() {
		testkit.Exec(b, pool, `SELECT pg_stat_statements_reset()`)
	}
	for b.Loop() {
		cpuBefore, procBefore := readCPU(), testkit.ProcessCPU()
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
				if used, steal, ok := readCPU().since(cpuBefore); ok {
					b.ReportMetric(float64(used.Microseconds())/1000/float64(posts*perPost), "machine-cpu-ms/change")
					b.ReportMetric(steal, "steal-%")
					b.ReportMetric(float64((testkit.ProcessCPU()-procBefore).Microseconds())/1000/float64(posts*perPost), "process-cpu-ms/change")
				}
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
		if statementsWanted() {
			logStatements(ctx, b, pool)
		}
		b.Log(stages(ctx, b, pool, users, sent, arrived))
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// stages splits each change's latency where the database saw it pass:
// the receiver's inbox transaction (observed_at), the processor's
// transaction start (the event's created_at) and the webhook's arrival.
func stages(ctx context.Context, b *testing.B, pool *pgxpool.Pool, users [][]uuid.UUID, sent []time.Time, arrived map[uuid.UUID]time.Time) string {
	rows, err := pool.Query(ctx, `SELECT user_object_id, observed_at, created_at FROM presence_events`)
	if err != nil {
		b.Fatal(err)
	}
	type seen struct{ observed, created time.Time }
	at := map[uuid.UUID]seen{}
	for rows.Next() {
		var u uuid.UUID
		var x seen
		if err := rows.Scan(&u, &x.observed, &x.created); err != nil {
			b.Fatal(err)
		}
		at[u] = x
	}
	var toInbox, toProcessor, toWebhook []time.Duration
	for i, us := range users {
		for _, u := range us {
			toInbox = append(toInbox, at[u].observed.Sub(sent[i]))
			toProcessor = append(toProcessor, at[u].created.Sub(at[u].observed))
			toWebhook = append(toWebhook, arrived[u].Sub(at[u].created))
		}
	}
	pct := func(d []time.Duration) string {
		slices.Sort(d)
		return fmt.Sprintf("p50 %.1f p99 %.1f ms", float64(d[len(d)/2].Microseconds())/1000, float64(d[len(d)*99/100].Microseconds())/1000)
	}
	return fmt.Sprintf("POST→inbox transaction %s; inbox→processor transaction %s; processor transaction→webhook %s",
		pct(toInbox), pct(toProcessor), pct(toWebhook))
}

// cpuTimes is the machine's CPU time from /proc/stat, in clock ticks
// (USER_HZ, 100 per second on Linux): busy is every state but idle, iowait
// and steal; steal is time the hypervisor gave another guest while this
// one had work. A benchmark of latency means little when a third of the
// host's time is stolen, so the figure is reported beside it.
type cpuTimes struct{ busy, steal, total int64 }

func readCPU() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	c := cpuTimes{busy: v[0] + v[1] + v[2] + v[5] + v[6], steal: v[7]}
	for _, x := range v {
		c.total += x
	}
	return c
}

// since is the busy time and the share of time stolen (%) since before.
func (c cpuTimes) since(before cpuTimes) (time.Duration, float64, bool) {
	if before.total == 0 || c.total <= before.total {
		return 0, 0, false
	}
	return time.Duration(c.busy-before.busy) * 10 * time.Millisecond,
		100 * float64(c.steal-before.steal) / float64(c.total-before.total), true
}
