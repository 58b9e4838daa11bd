package graphsim

//lint:file-ignore ST1005 these errors are Graph's own messages, sent to clients verbatim as Graph words them

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/netaddr"
)

// parseEncryptionCertificate reads encryptionCertificate: the base64 DER of
// an X.509 certificate with an RSA key of 2048–4096 bits
// (docs/graph.md#rich-notifications). Self-signed is fine; the issuer is not checked.
func parseEncryptionCertificate(b64 string) (*encryptionCert, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("encryptionCertificate must be the base64 encoding of an X.509 certificate.")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("encryptionCertificate is not a valid X.509 certificate.")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("encryptionCertificate must hold an RSA public key.")
	}
	if bits := pub.N.BitLen(); bits < minEncryptionKeyBits || bits > maxEncryptionKeyBits {
		return nil, fmt.Errorf("encryptionCertificate key size %d is not supported: use an RSA key of %d to %d bits.",
			bits, minEncryptionKeyBits, maxEncryptionKeyBits)
	}
	thumb := sha1.Sum(der)
	return &encryptionCert{pub: pub, thumbprint: strings.ToUpper(hex.EncodeToString(thumb[:]))}, nil
}

// checkURL answers "" for a notification URL Graph would call, else the
// error message. Graph calls only HTTPS endpoints (docs/graph.md#subscription-fields); the
// Sim also calls plain HTTP on loopback (tests) and on hosts allowed with
// AllowHTTPNotifications (compose networks).
func (n *notifier) checkURL(field, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return fmt.Sprintf("%s '%s' is not a valid absolute URL.", field, truncate(raw, 200))
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return ""
	case "http":
		if n.httpAllowed(u.Hostname()) {
			return ""
		}
	}
	return fmt.Sprintf("%s must use HTTPS: '%s'.", field, truncate(raw, 200))
}

func (n *notifier) httpAllowed(host string) bool {
	if netaddr.Loopback(strings.ToLower(host)) { // a host name in any case
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.httpHosts["*"] || n.httpHosts[strings.ToLower(host)]
}

// AllowHTTPNotifications lets subscriptions use plain-HTTP notification
// URLs on hosts (a container network's service names, say; "*" for any).
// Loopback hosts are always allowed.
func (s *Sim) AllowHTTPNotifications(hosts ...string) {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range hosts {
		n.httpHosts[strings.ToLower(h)] = true
	}
}

// SetNotificationClient replaces the HTTP client that validates endpoints
// and delivers notifications (to trust a test server's certificate, say).
// Its timeouts are ignored: Graph's own apply per request.
func (s *Sim) SetNotificationClient(c *http.Client) {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.client = c
}

// Validation failures as Graph words them (seen on the wire; docs/graph.md#validation-handshake).
const (
	msgValidationFailed  = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
	msgValidationTimeout = "Subscription validation request timed out."
	msgValidationMatch   = "Subscription validation request failed. Response must exactly match validationToken query parameter."
)

// handshake runs the validation handshake against endpoint and, when it
// fails, answers the create or update with 400 and reports false.
func (n *notifier) handshake(w http.ResponseWriter, r *http.Request, endpoint, subID string) bool {
	if msg := n.validate(r.Context(), endpoint, subID); msg != "" {
		writeGraphError(w, r, http.StatusBadRequest, "InvalidRequest", msg)
		return false
	}
	return true
}

// validate POSTs {endpoint}?validationToken=… with an empty text/plain
// body; the endpoint must answer 200, text/plain, with the decoded token,
// within 10 seconds (docs/graph.md#validation-handshake). It answers "" or Graph's message.
func (n *notifier) validate(ctx context.Context, endpoint, subID string) string {
	if f := n.faultFor(endpoint, subID, nil, func(f *NotificationFault) bool { return f.FailValidation }); f != nil {
		n.count(func(c *NotificationStats) { c.ValidationFailures++ })
		return msgValidationFailed
	}
	// Graph's token is readable text with spaces and colons, so an endpoint
	// that echoes it still URL-encoded fails, as it does at Microsoft.
	token := "Validation: Testing client application reachability for subscription Request-Id: " + uuid.NewString()
	target, err := url.Parse(endpoint)
	if err != nil {
		return msgValidationFailed
	}
	q := target.RawQuery
	if q != "" {
		q += "&"
	}
	target.RawQuery = q + "validationToken=" + url.QueryEscape(token)
	ctx, cancel := context.WithTimeout(ctx, n.validationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), http.NoBody)
	if err != nil {
		return msgValidationFailed
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	n.count(func(c *NotificationStats) { c.ValidationRequests++ })
	fail := func(msg string) string {
		n.count(func(c *NotificationStats) { c.ValidationFailures++ })
		return msg
	}
	resp, err := n.httpClient().Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return fail(msgValidationTimeout)
		}
		return fail(msgValidationFailed)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			return fail(msgValidationTimeout)
		}
		return fail(msgValidationFailed)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Sprintf("Subscription validation request failed. HTTP status code is '%s'. Notification endpoint must respond with 200 OK to validation request.",
			statusName(resp.StatusCode)))
	}
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "text/plain") || strings.TrimSpace(string(body)) != token {
		return fail(msgValidationMatch)
	}
	return ""
}
