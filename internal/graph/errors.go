package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/retryafter"
)

// wrap turns an SDK error into a *graphapi.Error wrapped with what was
// being done; errors that are not Graph's answers (context, network) are
// wrapped as they are.
//
// (*odataerrors.ODataError).Error() dereferences error.message and panics
// when Graph's body has none (docs/graph.md#msgraph-sdk-go), so an ODataError is
// only ever read field by field here.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if ge := toError(err); ge != nil {
		return fmt.Errorf("graph: %s: %w", op, ge)
	}
	return fmt.Errorf("graph: %s: %w", op, err)
}

func toError(err error) *graphapi.Error {
	if ge, ok := graphapi.AsError(err); ok {
		return ge
	}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		ge := &graphapi.Error{Status: odata.ResponseStatusCode}
		if e := odata.GetErrorEscaped(); e != nil {
			ge.Code = deref(e.GetCode())
			ge.Message = deref(e.GetMessage())
			if ie := e.GetInnerError(); ie != nil {
				ge.RequestID = deref(ie.GetRequestId())
			}
		}
		fromHeaders(ge, odata.GetResponseHeaders())
		return ge
	}
	var api *abs.ApiError // empty error bodies
	if errors.As(err, &api) {
		ge := &graphapi.Error{Status: api.ResponseStatusCode, Message: api.Message}
		fromHeaders(ge, api.ResponseHeaders)
		return ge
	}
	return nil
}

func fromHeaders(ge *graphapi.Error, h *abs.ResponseHeaders) {
	if h == nil {
		return
	}
	if ge.RequestID == "" {
		if v := h.Get("request-id"); len(v) > 0 {
			ge.RequestID = v[0]
		}
	}
	if v := h.Get("Retry-After"); len(v) > 0 {
		ge.RetryAfter, _ = retryafter.Parse(v[0])
	}
}

// batchError is the *graphapi.Error for one failed $batch step: its
// status, its own headers (an inner 429 carries its own Retry-After, and
// the SDK never retries inner answers) and Graph's error body.
func batchError(status int32, headers map[string]string, body map[string]any) *graphapi.Error {
	ge := &graphapi.Error{Status: int(status)}
	for k, v := range headers {
		switch strings.ToLower(k) {
		case "retry-after":
			ge.RetryAfter, _ = retryafter.Parse(v)
		case "request-id":
			ge.RequestID = v
		}
	}
	if e, ok := body["error"].(map[string]any); ok {
		ge.Code = str(e["code"])
		ge.Message = str(e["message"])
		if ie, ok := e["innerError"].(map[string]any); ok && str(ie["request-id"]) != "" {
			ge.RequestID = str(ie["request-id"])
		}
	}
	return ge
}

// str reads a JSON string that kiota may hand over as string or *string.
func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case *string:
		return deref(s)
	}
	return ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// nonJSONErrors rewrites error answers whose body is not JSON (a gateway's
// HTML 502, a proxy's text 503) into Graph's error shape. Otherwise kiota
// fails with "content type text/html does not have a factory registered to
// be parsed" and the status code is lost (docs/graph.md#msgraph-sdk-go).
type nonJSONErrors struct{}

func (nonJSONErrors) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err != nil || resp == nil || resp.StatusCode < 400 {
		return resp, err
	}
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if ct == "" || strings.Contains(ct, "json") {
		return resp, nil // JSON parses as ODataError; no body gives an ApiError with the status
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":    http.StatusText(resp.StatusCode),
		"message": strings.TrimSpace(string(raw)),
	}})
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Content-Length")
	resp.Header.Del("Content-Encoding")
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
