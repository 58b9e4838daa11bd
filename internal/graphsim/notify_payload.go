package graphsim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ChangeTrackingAppID is Microsoft Graph Change Tracking, the app that
// signs up for validation tokens (docs/graph.md#rich-notifications, docs/graph.md#validation-tokens).
const ChangeTrackingAppID = "0bf30f3b-4a52-48df-9a82-234910c4a086"

// validationTokenLifetime matches the documented v1 example (exp-iat =
// 29,100 s, docs/graph.md#validation-tokens).
const validationTokenLifetime = 29100 * time.Second

// notificationCollection is a changeNotificationCollection (docs/graph.md#notification-payload).
type notificationCollection struct {
	Value            []changeNotification `json:"value"`
	ValidationTokens []string             `json:"validationTokens,omitempty"`
}

// changeNotification is a changeNotification or, with LifecycleEvent, a
// lifecycle notification (which has no changeType, resource or
// resourceData; docs/graph.md#lifecycle-notifications). Field order follows Microsoft's example.
type changeNotification struct {
	SubscriptionID                 string            `json:"subscriptionId"`
	ClientState                    *string           `json:"clientState,omitempty"`
	ChangeType                     string            `json:"changeType,omitempty"`
	LifecycleEvent                 string            `json:"lifecycleEvent,omitempty"`
	TenantID                       string            `json:"tenantId"`
	Resource                       string            `json:"resource,omitempty"`
	SubscriptionExpirationDateTime string            `json:"subscriptionExpirationDateTime"`
	ResourceData                   *resourceData     `json:"resourceData,omitempty"`
	OrganizationID                 string            `json:"organizationId,omitempty"`
	EncryptedContent               *encryptedContent `json:"encryptedContent,omitempty"`
}

// resourceData identifies the changed presence. The type is spelled as
// Graph sends it on the wire (docs/graph.md#basic-and-rich-notifications).
type resourceData struct {
	ODataType string `json:"@odata.type"`
	ODataID   string `json:"@odata.id"`
	ID        string `json:"id"`
}

// encryptedContent is changeNotificationEncryptedContent (docs/graph.md#notification-payload).
type encryptedContent struct {
	Data                            string `json:"data"`
	DataSignature                   string `json:"dataSignature"`
	DataKey                         string `json:"dataKey"`
	EncryptionCertificateID         string `json:"encryptionCertificateId"`
	EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
}

// richPresence is the encrypted resource: every property of the changed
// presence (docs/graph.md#notification-payload: rich notifications carry all properties).
type richPresence struct {
	ODataType string `json:"@odata.type"`
	ODataID   string `json:"@odata.id"`
	Presence
}

// encode builds one POST body. Items that cannot be encrypted (never for
// a parsed certificate) go out without content, as Graph does when it
// "couldn't encrypt the resource data".
func (n *notifier) encode(items []*deliveryItem) []byte {
	c := notificationCollection{Value: make([]changeNotification, 0, len(items))}
	type appTenant struct {
		app    string
		tenant uuid.UUID
	}
	var rich []appTenant
	for _, it := range items {
		v := it.sub
		nt := changeNotification{SubscriptionID: v.id, ClientState: v.clientState, TenantID: v.tenant, SubscriptionExpirationDateTime: v.expires}
		if it.lifecycle != "" {
			nt.LifecycleEvent = it.lifecycle
			c.Value = append(c.Value, nt)
			continue
		}
		uid := it.presence.ID.String()
		nt.ChangeType = "updated"
		nt.Resource = v.sub.res.notificationResource(it.presence.ID)
		nt.ResourceData = &resourceData{ODataType: "#Microsoft.Graph.presence", ODataID: "users/" + uid + "/presence", ID: uid}
		nt.OrganizationID = v.tenant
		if v.rich && v.cert != nil {
			plain, _ := json.Marshal(richPresence{ODataType: "#microsoft.graph.presence", ODataID: "users/" + uid + "/presence",
				Presence: viewed(it.presence, v.creatorID)})
			if ec, err := encryptContent(v.cert, plain); err == nil {
				ec.EncryptionCertificateID = v.certID
				nt.EncryptedContent = &ec
			}
			k := appTenant{v.appID, v.tenantID}
			seen := false
			for _, x := range rich {
				seen = seen || x == k
			}
			if !seen {
				rich = append(rich, k)
			}
		}
		c.Value = append(c.Value, nt)
	}
	for _, k := range rich {
		c.ValidationTokens = append(c.ValidationTokens, n.validationToken(k.app, k.tenant))
	}
	body, _ := json.Marshal(c)
	return body
}

// encryptContent encrypts one resource as docs/graph.md#rich-notifications describes the
// decryption: a fresh 32-byte key, AES-256-CBC with IV = key[:16] and
// PKCS#7 padding, HMAC-SHA256 of the ciphertext under the same key, and the
// key wrapped with RSA-OAEP (SHA-1) to the subscription's certificate.
func encryptContent(cert *encryptionCert, plain []byte) (encryptedContent, error) {
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return encryptedContent{}, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	for i := len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(buf, buf)
	mac := hmac.New(sha256.New, key)
	mac.Write(buf)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, cert.pub, key, nil)
	if err != nil {
		return encryptedContent{}, err
	}
	return encryptedContent{
		Data:                            base64.StdEncoding.EncodeToString(buf),
		DataSignature:                   base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		DataKey:                         base64.StdEncoding.EncodeToString(wrapped),
		EncryptionCertificateThumbprint: cert.thumbprint,
	}, nil
}

type tokenKey struct {
	app    string
	tenant uuid.UUID
}

type cachedToken struct {
	raw             string
	issued, renewAt time.Time
}

// tokenCache keeps one validation token per app and tenant while it has
// more than an hour to live: Microsoft's tokens are long-lived and the
// same token arrives on many POSTs.
type tokenCache struct {
	mu sync.Mutex
	m  map[tokenKey]cachedToken
}

// validationToken is a v1 token from Microsoft Graph Change Tracking for
// the subscribing app (docs/graph.md#validation-tokens), signed with the identity
// platform's key so it verifies against the Sim's JWKS.
//
// It signs outside the cache's lock: an RSA signature is about a
// millisecond, and the POSTs of every other tenant waited behind each
// one — at a million users the first changes after an idle spell queued
// behind a thousand signatures in a row (issue 16). Two POSTs of one
// tenant may both sign; the later token replaces the earlier, both valid.
func (n *notifier) validationToken(app string, tenant uuid.UUID) string {
	now := n.s.clock()
	k := tokenKey{app, tenant}
	n.tokens.mu.Lock()
	t, ok := n.tokens.m[k]
	n.tokens.mu.Unlock()
	if ok && now.Before(t.renewAt) && !now.Before(t.issued) {
		return t.raw
	}
	iss := "https://sts.windows.net/" + tenant.String() + "/"
	raw := n.s.signer.sign(jwt.MapClaims{
		"aud":      app,
		"iss":      iss,
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(validationTokenLifetime).Unix(),
		"aio":      randomID(24),
		"appid":    ChangeTrackingAppID,
		"appidacr": "2",
		"idp":      iss,
		"tid":      tenant.String(),
		"uti":      randomID(16),
		"ver":      "1.0",
	})
	n.tokens.mu.Lock()
	n.tokens.m[k] = cachedToken{raw: raw, issued: now, renewAt: now.Add(validationTokenLifetime - time.Hour)}
	n.tokens.mu.Unlock()
	return raw
}
