package graphsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// POST /$batch (docs/graph.md#json-batching, docs/graph.md#msgraph-sdk-go): up to 20
// requests with unique ids (case-insensitive), relative urls, headers with
// a Content-Type whenever there is a body, a JSON or base64 body, and
// dependsOn. msgraph-sdk-go sends "body":null and "dependsOn":[] on every
// step. Each inner request runs through the same Graph pipeline as an
// outer one — authenticated with the batch's Authorization header and
// throttled on its own, so an inner 429 carries its own Retry-After in the
// inner headers — and a request whose dependency failed gets 424. The
// outer answer is 200 whenever the batch itself parses, 400 otherwise.

// maxBatchRequests is Graph's limit per batch (docs/graph.md#users-and-groups).
const maxBatchRequests = 20

type batchStep struct {
	ID        *string           `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResult struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batchRoutes serves /$batch.
func (s *Sim) batchRoutes(r chi.Router) {
	r.Post("/$batch", s.batch)
}

func (s *Sim) batch(w http.ResponseWriter, r *http.Request) {
	var payload struct {
		Requests []batchStep `json:"requests"`
	}
	if !readGraphJSON(w, r, &payload) {
		return
	}
	order, msg := checkBatch(payload.Requests)
	if msg != "" {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", msg)
		return
	}
	// The inner requests need Graph's router; building it per batch costs
	// far less than a request (Sim has no field to cache it in).
	inner := chi.NewRouter()
	s.graphRoutes(inner)
	status := map[string]int{}
	results := make([]batchResult, 0, len(order))
	for _, step := range order {
		id := strings.ToLower(*step.ID)
		if dep := failedDependency(step, status); dep != "" {
			status[id] = http.StatusFailedDependency
			results = append(results, batchResult{ID: *step.ID, Status: http.StatusFailedDependency,
				Headers: map[string]string{"Content-Type": "application/json"},
				Body: innerError(r, "FailedDependency",
					fmt.Sprintf("The request depends on request '%s', which failed.", dep))})
			continue
		}
		res := s.runStep(inner, r, step)
		status[id] = res.Status
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": results})
}

// checkBatch validates the steps and orders them so that every request
// runs after the ones it depends on; msg is Graph's 400 message otherwise.
func checkBatch(steps []batchStep) (order []batchStep, msg string) {
	switch {
	case len(steps) == 0:
		return nil, "Invalid batch payload format: no requests."
	case len(steps) > maxBatchRequests:
		return nil, fmt.Sprintf("Invalid batch payload: %d requests exceed the limit of %d.", len(steps), maxBatchRequests)
	}
	byID := map[string]batchStep{}
	for _, st := range steps {
		if st.ID == nil || strings.TrimSpace(*st.ID) == "" {
			return nil, "Invalid batch payload format: every request needs an id."
		}
		id := strings.ToLower(*st.ID)
		if _, dup := byID[id]; dup {
			return nil, fmt.Sprintf("Invalid batch payload format: the request id '%s' is not unique.", *st.ID)
		}
		byID[id] = st
		switch strings.ToUpper(st.Method) {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			return nil, fmt.Sprintf("Invalid batch payload format: request %s has an invalid method '%s'.", *st.ID, st.Method)
		}
		if st.URL == "" || strings.Contains(st.URL, "://") || strings.HasPrefix(st.URL, "//") {
			return nil, fmt.Sprintf("Invalid batch payload format: request %s needs a relative url.", *st.ID)
		}
		if hasBody(st) && headerValue(st.Headers, "Content-Type") == "" {
			return nil, fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", *st.ID)
		}
	}
	for _, st := range steps {
		for _, d := range st.DependsOn {
			if _, ok := byID[strings.ToLower(d)]; !ok || strings.EqualFold(d, *st.ID) {
				return nil, fmt.Sprintf("Invalid batch payload format: request %s depends on an unknown request '%s'.", *st.ID, d)
			}
		}
	}
	// Order by dependencies, keeping the given order otherwise; a cycle
	// leaves requests unplaced.
	placed := map[string]bool{}
	for len(order) < len(steps) {
		progress := false
		for _, st := range steps {
			id := strings.ToLower(*st.ID)
			if placed[id] {
				continue
			}
			ready := true
			for _, d := range st.DependsOn {
				ready = ready && placed[strings.ToLower(d)]
			}
			if ready {
				placed[id] = true
				order = append(order, st)
				progress = true
			}
		}
		if !progress {
			return nil, "Invalid batch payload format: the dependsOn relations form a cycle."
		}
	}
	return order, ""
}

func hasBody(st batchStep) bool {
	b := bytes.TrimSpace(st.Body)
	return len(b) > 0 && !bytes.Equal(b, []byte("null"))
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func failedDependency(st batchStep, status map[string]int) string {
	for _, d := range st.DependsOn {
		if code := status[strings.ToLower(d)]; code >= 400 {
			return d
		}
	}
	return ""
}

// innerError is a Graph error body for an inner response.
func innerError(r *http.Request, code, message string) json.RawMessage {
	rec := newMemResponse()
	writeGraphError(rec, r, 0, code, message)
	return json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))
}

// runStep executes one inner request in-process through Graph's router.
func (s *Sim) runStep(router http.Handler, outer *http.Request, st batchStep) batchResult {
	res := batchResult{ID: *st.ID}
	target := st.URL
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	var body []byte
	if hasBody(st) {
		trimmed := bytes.TrimSpace(st.Body)
		if trimmed[0] == '"' { // a base64 string: the body of a non-JSON request
			var enc string
			if json.Unmarshal(trimmed, &enc) != nil {
				return badStep(outer, res, "The request body is not a valid base64 string.")
			}
			dec, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				return badStep(outer, res, "The request body is not a valid base64 string.")
			}
			body = dec
		} else {
			body = trimmed
		}
	}
	// The outer request's chi routing state must not leak in: with it, chi
	// would treat the router as a sub-router of the outer route.
	ctx := context.WithValue(outer.Context(), chi.RouteCtxKey, nil)
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(st.Method), "/v1.0"+target, bytes.NewReader(body))
	if err != nil || strings.HasPrefix(req.URL.Path, "/v1.0/$batch") {
		return badStep(outer, res, "Invalid request url: "+st.URL)
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = outer.RemoteAddr
	for k, v := range st.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Content-Type") == "" && len(body) == 0 {
		req.ContentLength = 0
	}
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	rec := newMemResponse()
	router.ServeHTTP(rec, req)
	res.Status = rec.status
	res.Headers = map[string]string{}
	for k, vs := range rec.header {
		switch strings.ToLower(k) {
		case "request-id", "client-request-id", "x-ms-ags-diagnostic", "strict-transport-security", "content-length", "date":
			continue
		}
		res.Headers[k] = strings.Join(vs, ", ")
	}
	payload := bytes.TrimSpace(rec.body.Bytes())
	switch {
	case len(payload) == 0:
	case json.Valid(payload):
		res.Body = json.RawMessage(payload)
	default:
		enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(payload))
		res.Body = enc
	}
	return res
}

func badStep(outer *http.Request, res batchResult, msg string) batchResult {
	res.Status = http.StatusBadRequest
	res.Headers = map[string]string{"Content-Type": "application/json"}
	res.Body = innerError(outer, "BadRequest", msg)
	return res
}

// memResponse is an in-memory http.ResponseWriter for inner requests.
type memResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newMemResponse() *memResponse { return &memResponse{header: http.Header{}} }

func (m *memResponse) Header() http.Header { return m.header }

func (m *memResponse) WriteHeader(status int) {
	if m.status == 0 {
		m.status = status
	}
}

func (m *memResponse) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	return m.body.Write(b)
}
