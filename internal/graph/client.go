// Package graph is Presence Bridge's door to Microsoft Graph: presence,
// subscriptions, users, groups and app registrations, spoken through the
// official msgraph-sdk-go and answered in graphapi's plain types. It is the
// only package that links the SDK (minutes and gigabytes to compile), so
// domain packages depend on graphapi's interfaces and never on this one.
//
// The SDK's request builders are created per subpackage (users,
// communications, subscriptions, groups, applications) rather than through
// msgraphsdk.GraphServiceClient, whose root package pulls in every builder
// of Graph and doubles the cold build (docs/graph.md#msgraph-sdk-go).
package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-json"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"golang.org/x/oauth2"

	"presencebridge/internal/retryafter"
)

// DefaultBaseURL is Microsoft Graph v1.0 in the global cloud.
const DefaultBaseURL = "https://graph.microsoft.com/v1.0"

// sdkVersion goes into the SdkVersion telemetry header, as the SDK's own
// client sends it.
const sdkVersion = "1.89.0"

// Options configure a Client.
type Options struct {
	// BaseURL is Graph's root including the version (DefaultBaseURL when
	// empty); graphsim's is its base URL + "/v1.0".
	BaseURL string
	// Tokens or Token supplies the bearer token (exactly one of them). A
	// Client speaks for the one principal behind it.
	Tokens oauth2.TokenSource
	Token  func(ctx context.Context) (string, error)
	// Transport carries requests under the SDK's middleware (retry,
	// redirect, compression, telemetry), which is always kept; nil uses a
	// clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds one call including the SDK's retries (default 60 s).
	Timeout time.Duration
	// AllowedHosts receive the token besides BaseURL's host. Absolute
	// nextLinks pointing anywhere else are requested without it.
	AllowedHosts []string
	Retry        Retry
}

// Retry configures the SDK's retry of 429, 503 and 504 answers. The
// SDK's defaults (3 retries, Retry-After honoured) apply when it is zero.
type Retry struct {
	// Off hands every throttling answer to the caller at once, as an
	// *graphapi.Error with RetryAfter (for callers that schedule retries
	// themselves rather than hold a goroutine).
	Off bool
	// MaxRetries after the first attempt (SDK default 3, at most 10).
	MaxRetries int
	// MaxDelay: when Graph asks to wait longer than this, the answer is
	// returned instead of slept on (0: no bound but the call's deadline).
	MaxDelay time.Duration
}

// Client is a Graph client for one token. It is safe for concurrent use.
type Client struct {
	adapter *msgraphcore.GraphRequestAdapterBase
	base    string
	// pageSize overrides $top of user listings (tests page with small ones).
	pageSize int32
}

// The SDK's serializers and its page-iterator and $batch error mappings are
// process-wide registries; they are filled once here, before any request.
// Without the mappings, failed next pages and $batch answers come back as
// bare ApiErrors without Graph's code (docs/graph.md#msgraph-sdk-go).
func init() {
	abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
	abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
	abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
	abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
	_ = msgraphcore.RegisterError(msgraphcore.PageIteratorErrorRegistryKey, odataErrors)
	_ = msgraphcore.RegisterError(msgraphcore.BatchRequestErrorRegistryKey, odataErrors)
}

// odataErrors map every error answer to Graph's error body, as the SDK's
// request builders map theirs.
var odataErrors = abs.ErrorMappings{
	"4XX": odataerrors.CreateODataErrorFromDiscriminatorValue,
	"5XX": odataerrors.CreateODataErrorFromDiscriminatorValue,
	"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue,
}

// sendJSON sends ri through the SDK's adapter — its middleware (token,
// retries, redirects, compression) and error mapping, as every request —
// and decodes the answer's body into v with github.com/goccy/go-json.
// kiota's parse node trees cost several times as much CPU for the same
// answer: the lookups, presence reads and delta pages of a cold start went
// through them (issue 16). goccy/go-json decodes as encoding/json does
// (internal/notification's FuzzUnmarshalDecodesAsEncodingJSON compares
// them) about 5 times faster: an answer of 650 presences in 0.27 ms
// against 1.4 ms, and a repair re-reads a million users' presences, whose
// decoding was about a sixth of serve's CPU in it.
func (c *Client) sendJSON(ctx context.Context, ri *abs.RequestInformation, v any) error {
	ri.Headers.TryAdd("Accept", "application/json")
	raw, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", odataErrors)
	if err != nil {
		return err
	}
	b, _ := raw.([]byte)
	if len(b) == 0 {
		return errors.New("the answer has no body")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the answer is not the JSON expected: %w", err)
	}
	return nil
}

// New builds a Client: the SDK's request adapter over our own token
// provider and transport, with the default Graph middleware kept.
func New(opts Options) (*Client, error) { return newClient(opts, middleware(opts.Retry)) }

func newClient(opts Options, mws []khttp.Middleware) (*Client, error) {
	if (opts.Tokens == nil) == (opts.Token == nil) {
		return nil, errors.New("graph: exactly one of Options.Tokens and Options.Token is needed")
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("graph: base URL %q is not an absolute URL", opts.BaseURL)
	}
	token := opts.Token
	if token == nil {
		ts := oauth2.ReuseTokenSource(nil, opts.Tokens)
		token = func(context.Context) (string, error) {
			t, err := ts.Token()
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		}
	}
	// The host allow-list must hold BaseURL's host: the SDK sends no token
	// elsewhere, which against graphsim would mean 401s (docs/graph.md#msgraph-sdk-go).
	hosts := append([]string{u.Hostname()}, opts.AllowedHosts...)
	validator, err := absauth.NewAllowedHostsValidatorErrorCheck(hosts)
	if err != nil {
		return nil, fmt.Errorf("graph: allowed hosts %q: %w", opts.AllowedHosts, err)
	}
	auth := absauth.NewBaseBearerTokenAuthenticationProvider(&tokenProvider{token: token, hosts: validator})

	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(opts.Transport, mws...),
		Timeout:   timeout,
		// kiota's redirect handler follows redirects; net/http must not too.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	clientOpts := msgraphcore.GraphClientOptions{GraphServiceLibraryVersion: sdkVersion}
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, clientOpts, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	// Before any request builder exists: builders copy the adapter's base
	// URL into their path parameters, and $batch strips it from step URLs.
	adapter.SetBaseUrl(base)
	return &Client{adapter: adapter, base: base}, nil
}

// middleware is the SDK's default Graph middleware with our retry policy,
// in a fixed order, and last (nearest the wire) the non-JSON error rewrite.
//
// kiota builds its default list by ranging over a map, so the order of its
// handlers changes from process to process. When the retry handler runs
// outside the compression handler, a retried POST goes out with
// "Content-Encoding: gzip" (set on the shared header map by the first
// attempt) over the uncompressed body, and Graph refuses it (400, "could
// not be decompressed"). Compression outside retry compresses once and
// the retry handler rewinds the compressed body.
func middleware(r Retry) []khttp.Middleware {
	mws := msgraphcore.GetDefaultMiddlewaresWithOptions(&msgraphcore.GraphClientOptions{GraphServiceLibraryVersion: sdkVersion})
	for i, m := range mws {
		if _, ok := m.(*khttp.RetryHandler); ok {
			mws[i] = khttp.NewRetryHandlerWithOptions(retryOptions(r))
		}
	}
	rank := func(m khttp.Middleware) int {
		switch m.(type) {
		case *khttp.CompressionHandler:
			return 1
		case *khttp.RetryHandler:
			return 2
		}
		return 0
	}
	slices.SortStableFunc(mws, func(a, b khttp.Middleware) int { return rank(a) - rank(b) })
	return append(mws, nonJSONErrors{}, ownBody{})
}

// ownBody hands the transport a copy of the request body for every
// attempt. kiota's retry handler rewinds and resends the very body the
// previous attempt gave the transport, which may still be reading it in
// its write loop when a 429 arrives early ("ContentLength=677 with Body
// length 0", and a data race); net/http allows a transport to close or
// read a body after RoundTrip returns.
type ownBody struct{}

func (ownBody) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return p.Next(req, i)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("graph: read request body: %w", err)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.ContentLength = int64(len(b))
	return p.Next(out, i)
}

func retryOptions(r Retry) khttp.RetryHandlerOptions {
	// MaxRetries 0 does not disable the SDK's retries (it means 3), and the
	// handler calls ShouldRetry unconditionally: it must never be nil (docs/graph.md#msgraph-sdk-go).
	return khttp.RetryHandlerOptions{
		MaxRetries: r.MaxRetries,
		ShouldRetry: func(_ time.Duration, _ int, _ *http.Request, resp *http.Response) bool {
			if r.Off {
				return false
			}
			if r.MaxDelay > 0 && resp != nil {
				if d, ok := retryafter.Parse(resp.Header.Get("Retry-After")); ok && d > r.MaxDelay {
					return false
				}
			}
			return true
		},
	}
}

// tokenProvider is kiota's AccessTokenProvider over our token function. It
// checks the host itself: the bearer provider does not.
type tokenProvider struct {
	token func(ctx context.Context) (string, error)
	hosts *absauth.AllowedHostsValidator
}

func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !p.hosts.IsUrlHostValid(u) {
		return "", nil // never hand the token to a foreign host (an absolute nextLink, say)
	}
	tok, err := p.token(ctx)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return tok, nil
}

func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator { return p.hosts }

// path is the path parameters every request builder starts from.
func (c *Client) path() map[string]string { return map[string]string{"baseurl": c.base} }
