package graphsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// BenchmarkNotifications measures the whole notification path: Teams
// presence changes (SetTeamsPresence) → notifier → rich, encrypted,
// batched POSTs to a loopback receiver that answers 202 at once. It
// reports presence changes delivered per second:
//
//	go test -run '^$' -bench BenchmarkNotifications -benchtime 200000x -cpu 2 ./internal/graphsim/
func BenchmarkNotifications(b *testing.B) {
	const users = 2 * MaxPresenceIDs
	seed := GenerateSeed(1, users, 2, 2026)
	sim := New(Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.SetBaseURL(srv.URL)
	if err := sim.Apply(seed); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sim.notify.run(ctx)

	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, tok)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()

	_, der, err := selfSigned(2048)
	if err != nil {
		b.Fatal(err)
	}
	cert := base64.StdEncoding.EncodeToString(der)
	ten := seed.Tenants[0]
	// Two monitors, each subscribed to 650 people: every change is one
	// notification.
	for i, mon := range ten.Monitors {
		cfg := oauth2.Config{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/" + ten.ID.String() + "/oauth2/v2.0/token"},
			Scopes:   []string{"https://graph.microsoft.com/.default"}}
		tok, err := cfg.PasswordCredentialsToken(context.WithValue(ctx, oauth2.HTTPClient, http.DefaultClient), mon.UPN, mon.Password)
		if err != nil {
			b.Fatal(err)
		}
		part := ten.Users[i*MaxPresenceIDs : (i+1)*MaxPresenceIDs]
		body := map[string]any{"changeType": "updated", "notificationUrl": rcv.URL, "resource": bulkResource(userIDs(part)...),
			"expirationDateTime": time.Now().Add(59 * time.Minute).UTC().Format(time.RFC3339), "clientState": "bench",
			"includeResourceData": true, "encryptionCertificate": cert, "encryptionCertificateId": "bench"}
		if code := benchPost(b, srv.URL+"/v1.0/subscriptions", tok.AccessToken, body); code != http.StatusCreated {
			b.Fatalf("subscribe: %d", code)
		}
	}

	states := [2][2]string{{"Busy", "InACall"}, {"Available", "Available"}}
	base := sim.NotificationStats().Delivered
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		st := states[(i/users)%2]
		if err := sim.SetTeamsPresence(ten.Users[i%users].ID, st[0], st[1]); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for sim.NotificationStats().Delivered-base < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", sim.NotificationStats().Delivered-base, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st := sim.NotificationStats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "changes/s")
	b.ReportMetric(st.LatencyP99, "p99-ms")
	b.ReportMetric(float64(st.Sent)/float64(max(st.Posts, 1)), "items/post")
}

func benchPost(b *testing.B, url, token string, body any) int {
	b.Helper()
	rd, err := jsonReader(body)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func jsonReader(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	return bytes.NewReader(b), err
}
