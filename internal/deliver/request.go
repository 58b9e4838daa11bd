package deliver

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/json"
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
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

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
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
		return fmt.Errorf("%w (%s)", ErrForbiddenAddress, ip)
	}
	return nil
}

func (d *Deliverer) attempt(ctx context.Context, dl store.Delivery) (int, time.Duration, error) {
	body, err := json.Marshal(presence.NewEvent(dl.Event))
	if err != nil {
		return 0, 0, err
	}
	// The event's own id: the same at every endpoint, across retries and
	// replays, on the event stream too, and unique across databases.
	msgID := dl.Event.EventID.String()
	now := time.Now()
	sig, err := d.signature(ctx, dl, msgID, now, body)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.EndpointURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PresenceBridge-Webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		// Capped at a day: the whole schedule is about that long.
		ra, _ := retryafter.Parse(resp.Header.Get("Retry-After"))
		retryAfter = min(ra, 24*time.Hour)
	}
	return resp.StatusCode, retryAfter, nil
}

// signature signs with the current secret and, during a rotation, the
// previous one too: "v1,<a> v1,<b>".
func (d *Deliverer) signature(ctx context.Context, dl store.Delivery, msgID string, at time.Time, body []byte) (string, error) {
	ids := []uuid.UUID{dl.SecretID}
	if dl.PrevSecretID != nil {
		ids = append(ids, *dl.PrevSecretID)
	}
	var sigs []string
	for _, id := range ids {
		wh, err := d.webhook(ctx, id)
		if err != nil {
			return "", err
		}
		s, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, s)
	}
	return strings.Join(sigs, " "), nil
}

func (d *Deliverer) webhook(ctx context.Context, secretID uuid.UUID) (*standardwebhooks.Webhook, error) {
	d.mu.Lock()
	wh := d.webhooks[secretID]
	d.mu.Unlock()
	if wh != nil {
		return wh, nil
	}
	secret, err := d.st.OpenSecret(ctx, secretID, store.PurposeSigningSecret)
	if err != nil {
		return nil, err
	}
	if wh, err = standardwebhooks.NewWebhook(string(secret)); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.webhooks[secretID] = wh
	d.mu.Unlock()
	return wh, nil
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
