package graphsim

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// receiver is a subscriber's webhook on loopback: it answers validation
// handshakes (by default correctly) and records every notification POST.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	URL string

	mu          sync.Mutex
	validations []receivedRequest
	posts       []receivedRequest
	// answer decides the status of the nth notification POST (0-based);
	// nil answers 202.
	answer func(n int) int
	// validateAnswer replaces the handshake answer: status, content type
	// and body for the decoded token.
	validateAnswer func(token string) (int, string, string)
	validateDelay  time.Duration
	got            chan receivedRequest
}

type receivedRequest struct {
	Query  url.Values
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{t: t, got: make(chan receivedRequest, 4096)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	rc.URL = rc.srv.URL + "/graph/notifications"
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := receivedRequest{Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	if token := r.URL.Query().Get("validationToken"); r.URL.Query().Has("validationToken") {
		rc.mu.Lock()
		rc.validations = append(rc.validations, req)
		answer, delay := rc.validateAnswer, rc.validateDelay
		rc.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		status, ct, out := http.StatusOK, "text/plain; charset=utf-8", token
		if answer != nil {
			status, ct, out = answer(token)
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		io.WriteString(w, out)
		return
	}
	rc.mu.Lock()
	n := len(rc.posts)
	rc.posts = append(rc.posts, req)
	answer := rc.answer
	rc.mu.Unlock()
	status := http.StatusAccepted
	if answer != nil {
		status = answer(n)
	}
	w.WriteHeader(status)
	rc.got <- req
}

// next waits for the next notification POST.
func (rc *receiver) next(t *testing.T) receivedRequest {
	t.Helper()
	select {
	case req := <-rc.got:
		return req
	case <-time.After(5 * time.Second):
		t.Fatal("no notification POST arrived within 5 s")
		return receivedRequest{}
	}
}

// none asserts that no notification POST arrives for a short while.
func (rc *receiver) none(t *testing.T) {
	t.Helper()
	select {
	case req := <-rc.got:
		t.Fatalf("unexpected notification POST: %s", req.Body)
	case <-time.After(300 * time.Millisecond):
	}
}

func (rc *receiver) validationCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.validations)
}

// startNotifier runs the Sim's delivery loop for the test.
func startNotifier(t *testing.T, f *fixture) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	go f.sim.notify.run(ctx)
	t.Cleanup(cancel)
}

// encryption keys are slow to make; tests share two.
var (
	certOnce             sync.Once
	testCertB64          string
	testCertKey          *rsa.PrivateKey
	testCertThumb        string
	smallCertB64         string
	testCertOnceFailures error
)

func testEncryptionCert(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	certOnce.Do(func() {
		var der []byte
		testCertKey, der, testCertOnceFailures = selfSigned(2048)
		if testCertOnceFailures != nil {
			return
		}
		testCertB64 = base64.StdEncoding.EncodeToString(der)
		sum := sha1.Sum(der)
		testCertThumb = strings.ToUpper(hexString(sum[:]))
		_, small, err := selfSigned(1024)
		if err != nil {
			testCertOnceFailures = err
			return
		}
		smallCertB64 = base64.StdEncoding.EncodeToString(small)
	})
	if testCertOnceFailures != nil {
		t.Fatal(testCertOnceFailures)
	}
	return testCertB64, testCertKey
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func selfSigned(bits int) (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bridge notifications"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	return key, der, err
}

// subRequest is a create-subscription body for a presence resource.
func (f *fixture) subRequest(notificationURL, resource string, rich bool) map[string]any {
	body := map[string]any{
		"changeType":         "updated",
		"notificationUrl":    notificationURL,
		"resource":           resource,
		"expirationDateTime": f.clock().Add(55 * time.Minute).UTC().Format(time.RFC3339Nano),
		"clientState":        "s3cret-client-state",
	}
	if rich {
		cert, _ := testEncryptionCert(f.t)
		body["includeResourceData"] = true
		body["encryptionCertificate"] = cert
		body["encryptionCertificateId"] = "bridge-cert-1"
	}
	return body
}

// bulkResource is the documented bulk form for ids.
func bulkResource(ids ...uuid.UUID) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = "'" + id.String() + "'"
	}
	return "/communications/presences?$filter=id in (" + strings.Join(quoted, ", ") + ")"
}

// subscribe creates a subscription and fails the test unless it is 201.
func (f *fixture) subscribe(token string, body map[string]any) Subscription {
	f.t.Helper()
	resp := f.call(token, http.MethodPost, "/v1.0/subscriptions", body)
	if resp.status != http.StatusCreated {
		f.t.Fatalf("create subscription: %d %s", resp.status, resp.body)
	}
	var sub Subscription
	resp.json(f.t, &sub)
	return sub
}

// wireCollection is what a receiver decodes.
type wireCollection struct {
	Value            []wireNotification `json:"value"`
	ValidationTokens []string           `json:"validationTokens"`
}

type wireNotification struct {
	SubscriptionID                 string  `json:"subscriptionId"`
	SubscriptionExpirationDateTime string  `json:"subscriptionExpirationDateTime"`
	ChangeType                     string  `json:"changeType"`
	LifecycleEvent                 string  `json:"lifecycleEvent"`
	ClientState                    *string `json:"clientState"`
	Resource                       string  `json:"resource"`
	TenantID                       string  `json:"tenantId"`
	OrganizationID                 string  `json:"organizationId"`
	ResourceData                   *struct {
		ODataType string `json:"@odata.type"`
		ODataID   string `json:"@odata.id"`
		ID        string `json:"id"`
	} `json:"resourceData"`
	EncryptedContent *struct {
		Data                            string `json:"data"`
		DataSignature                   string `json:"dataSignature"`
		DataKey                         string `json:"dataKey"`
		EncryptionCertificateID         string `json:"encryptionCertificateId"`
		EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
	} `json:"encryptedContent"`
}

func decodeCollection(t *testing.T, body []byte) wireCollection {
	t.Helper()
	var c wireCollection
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("notification body is not JSON: %v\n%s", err, body)
	}
	return c
}

// decrypt follows Microsoft's decryption steps (docs/graph.md#rich-notifications) with the
// standard library only, as a subscriber would.
func decrypt(t *testing.T, key *rsa.PrivateKey, n wireNotification) map[string]any {
	t.Helper()
	ec := n.EncryptedContent
	if ec == nil {
		t.Fatalf("notification has no encryptedContent")
	}
	wrapped, err := base64.StdEncoding.DecodeString(ec.DataKey)
	if err != nil {
		t.Fatalf("dataKey: %v", err)
	}
	sym, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil)
	if err != nil {
		t.Fatalf("unwrap dataKey with RSA-OAEP SHA-1: %v", err)
	}
	if len(sym) != 32 {
		t.Fatalf("symmetric key is %d bytes, want 32", len(sym))
	}
	data, err := base64.StdEncoding.DecodeString(ec.Data)
	if err != nil {
		t.Fatalf("data: %v", err)
	}
	sig, _ := base64.StdEncoding.DecodeString(ec.DataSignature)
	mac := hmac.New(sha256.New, sym)
	mac.Write(data)
	if !hmac.Equal(mac.Sum(nil), sig) {
		t.Fatal("dataSignature is not HMAC-SHA256(key, data)")
	}
	block, _ := aes.NewCipher(sym)
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		t.Fatalf("ciphertext length %d is not a multiple of the block size", len(data))
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, sym[:aes.BlockSize]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize {
		t.Fatalf("bad PKCS#7 padding %d", pad)
	}
	var out map[string]any
	if err := json.Unmarshal(plain[:len(plain)-pad], &out); err != nil {
		t.Fatalf("plaintext is not JSON: %v\n%s", err, plain)
	}
	return out
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func userIDs(users []SeedUser) []uuid.UUID {
	out := make([]uuid.UUID, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}
