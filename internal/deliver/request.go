package deliver

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/retryafter"
	"presencebridge/internal/store"
)

// ErrForbiddenAddress is a webhook URL that resolves to a private,
// loopback or link-local address.
var ErrForbiddenAddress = errors.New("deliver: webhook address is not public")

// checkAddress runs on every connection, after DNS: the address actually
// dialled is checked, so a public name resolving to 10.0.0.1 is refused.
func (d *Deliverer) checkAddress(_, address string, _ syscall.RawConn) error {
	if d.opts.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !Public(ip) {
		return fmt.Errorf("%w (%s)", ErrForbiddenAddress, ip.Unmap())
	}
	return nil
}

// answer is what an endpoint answered a request: its status, how long it
// asked us to wait (429 and 503), and the start of its body, to show
// people why it refused (kept as the delivery's last error).
type answer struct {
	status     int
	retryAfter time.Duration
	body       string
}

// ok reports whether the endpoint took the request.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// reason says why the endpoint did not take the request: its status and
// the start of its body.
func (a answer) reason() string {
	if a.body == "" {
		return fmt.Sprintf("HTTP %d", a.status)
	}
	return fmt.Sprintf("HTTP %d: %s", a.status, a.body)
}

// maxAnswerBody is how much of an endpoint's refusal is kept: enough for
// its error message, not for a page of HTML.
const maxAnswerBody = 512

func (d *Deliverer) attempt(ctx context.Context, dl store.Delivery) (answer, error) {
	body, err := eventJSON(presence.NewEvent(dl.Event))
	if err != nil {
		return answer{}, err
	}
	// The event's own id: the same at every endpoint, across retries and
	// replays, on the event stream too, and unique across databases.
	return d.post(ctx, dl.TenantID, dl.EndpointURL, signers(dl.SecretID, dl.PrevSecretID), dl.Event.EventID.String(), body)
}

// signers are the secrets a request is signed with: the current one and,
// while a rotation's overlap lasts, the previous one.
func signers(current uuid.UUID, previous *uuid.UUID) []uuid.UUID {
	if previous != nil {
		return []uuid.UUID{current, *previous}
	}
	return []uuid.UUID{current}
}

// post sends body to url as a Standard Webhook with id msgID, signed with
// tenant's secrets, through the client that checks every address it dials.
func (d *Deliverer) post(ctx context.Context, tenant uuid.UUID, url string, secrets []uuid.UUID, msgID string, body []byte) (answer, error) {
	now := time.Now()
	sig, err := d.signature(ctx, tenant, secrets, msgID, now, body)
	if err != nil {
		return answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PresenceBridge-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	if !a.ok() {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
		a.body = strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		// Capped at a day: the whole schedule is about that long.
		ra, _ := retryafter.Parse(resp.Header.Get("Retry-After"))
		a.retryAfter = min(ra, 24*time.Hour)
	}
	return a, nil
}

// signature signs with each secret: "v1,<a> v1,<b>" during a rotation.
func (d *Deliverer) signature(ctx context.Context, tenant uuid.UUID, secrets []uuid.UUID, msgID string, at time.Time, body []byte) (string, error) {
	var sigs []string
	for _, id := range secrets {
		s, err := d.signerOf(ctx, tenant, id)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, s.sign(msgID, at.Unix(), body))
	}
	return strings.Join(sigs, " "), nil
}

// signerOf is the signer of tenant's secret secretID, opened once (a
// secret never changes: a rotation makes a new one) and kept under both
// ids, so that a tenant naming another's secret is refused every time.
func (d *Deliverer) signerOf(ctx context.Context, tenant, secretID uuid.UUID) (*signer, error) {
	key := [2]uuid.UUID{tenant, secretID}
	d.mu.Lock()
	s := d.opened[key]
	d.mu.Unlock()
	if s != nil {
		return s, nil
	}
	secret, err := d.st.OpenSecret(ctx, &tenant, secretID, store.PurposeSigningSecret)
	if err != nil {
		return nil, err
	}
	if s, err = newSigner(string(secret)); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.opened[key] = s
	d.mu.Unlock()
	return s, nil
}

// NewSecret makes an endpoint signing secret: "whsec_" and 32 random
// bytes in base64, as Standard Webhooks specifies.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := cryptorand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}
