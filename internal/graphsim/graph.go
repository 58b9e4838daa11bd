package graphsim

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Graph under /v1.0. Every response carries the headers Graph sends
// (request-id, client-request-id); every error is Graph's OData error
// body (docs/graph.md#error-responses); request bodies may arrive gzip-compressed, as
// msgraph-sdk-go's compression handler sends them (docs/graph.md#msgraph-sdk-go).

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
)

// maxGraphBody bounds a Graph request body; Graph itself answers 413 for
// oversized payloads (4 MB for JSON batching).
const maxGraphBody = 4 << 20

func (s *Sim) graphRoutes(r chi.Router) {
	r.Route("/v1.0", func(r chi.Router) {
		r.Use(s.graphRequest)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			seg := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1.0"), "/")
			seg, _, _ = strings.Cut(seg, "/")
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
				fmt.Sprintf("Resource not found for the segment '%s'.", seg))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeGraphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest",
				"Specified HTTP method is not allowed for the request uri.")
		})
		r.Group(func(r chi.Router) {
			r.Use(s.graphAuth)
			s.presenceRoutes(r)
			s.userRoutes(r)
			s.subscriptionRoutes(r)
			s.applicationRoutes(r)
			s.batchRoutes(r)
		})
	})
}

// graphRequest stamps request ids and unwraps compressed bodies.
func (s *Sim) graphRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := uuid.NewString()
		w.Header().Set("request-id", rid)
		crid := r.Header.Get("client-request-id")
		if crid == "" {
			crid = rid
		}
		w.Header().Set("client-request-id", crid)
		w.Header().Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Graphsim","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"GS0","ADSiteName":"LOC"}}`)
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		ctx := context.WithValue(r.Context(), requestIDKey, [2]string{rid, crid})
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxGraphBody)
		}
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "The request body could not be decompressed.")
				return
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.LimitReader(zr, maxGraphBody), r.Body}
			r.Header.Del("Content-Encoding")
		}
		next.ServeHTTP(w, r)
	})
}

// graphAuth validates the bearer token and counts the request against the
// app's global budget.
func (s *Sim) graphAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Authenticate(r)
		if err != nil {
			msg := "Access token validation failure. Invalid audience."
			switch {
			case r.Header.Get("Authorization") == "":
				msg = "Access token is empty."
			case strings.Contains(err.Error(), "expired"):
				msg = "Lifetime validation failed, the token is expired."
			case strings.Contains(err.Error(), "malformed"):
				msg = "IDX14100: JWT is not well formed, there are no dots (.)."
			case strings.Contains(err.Error(), "signature"):
				msg = "Access token validation failure."
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.BaseURL()+
				`/common/oauth2/authorize", client_id="`+GraphAppID+`"`)
			writeGraphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
			return
		}
		if !s.admit(w, r, p, classGlobal) {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// principal is the caller of an authenticated Graph request.
func principal(r *http.Request) *Principal {
	p, _ := r.Context().Value(principalKey).(*Principal)
	return p
}

// graphError is Graph's OData error body.
type graphError struct {
	Error graphErrorBody `json:"error"`
}

type graphErrorBody struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	InnerError map[string]any `json:"innerError,omitempty"`
}

// writeGraphError answers with Graph's error JSON (docs/graph.md#error-responses):
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
func writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeGraphErrorInner(w, r, status, code, message, nil)
}

func writeGraphErrorInner(w http.ResponseWriter, r *http.Request, status int, code, message string, extra map[string]any) {
	ids, _ := r.Context().Value(requestIDKey).([2]string)
	inner := map[string]any{
		"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
		"request-id":        ids[0],
		"client-request-id": ids[1],
	}
	for k, v := range extra {
		inner[k] = v
	}
	writeJSON(w, status, graphError{Error: graphErrorBody{Code: code, Message: message, InnerError: inner}})
}

// readGraphJSON decodes a request body the way Graph does: a body that is
// not JSON, or not the expected shape, is 400 BadRequest.
func readGraphJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeGraphError(w, r, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request payload is too large.")
		return false
	}
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "Empty Payload. JSON content expected.")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
			"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return false
	}
	return true
}

// requireScope answers 403 unless the caller holds one of perms (delegated
// or application, or the ReadWrite form). code is the workload's own error
// code: Authorization_RequestDenied for the directory, Forbidden for
// communications.
func requireScope(w http.ResponseWriter, r *http.Request, code string, perms ...string) bool {
	p := principal(r)
	for _, perm := range perms {
		if p.Has(perm) {
			return true
		}
	}
	msg := "Insufficient privileges to complete the operation."
	if code == "Forbidden" {
		held := p.Scopes
		kind := "scope"
		if !p.Delegated() {
			held, kind = p.Roles, "role"
		}
		msg = fmt.Sprintf("Missing %s permissions on the request. API requires one of '%s'. %ss on the request '%s'.",
			kind, strings.Join(perms, ", "), strings.ToUpper(kind[:1])+kind[1:], strings.Join(held, ", "))
	}
	writeGraphError(w, r, http.StatusForbidden, code, msg)
	return false
}

// odataContext is the @odata.context URL Graph puts on responses.
func (s *Sim) odataContext(fragment string) string {
	return s.BaseURL() + "/v1.0/$metadata#" + fragment
}

// lookupUser resolves a {user} path segment — an object id, a UPN, or the
// ('upn') key form — within the caller's tenant, or answers 404 with the
// directory's error. Other tenants' users are not found; a guest is found
// by its #EXT# UPN or its id, as in Entra.
func (s *Sim) lookupUser(w http.ResponseWriter, r *http.Request, seg string) *User {
	if dec, err := url.PathUnescape(seg); err == nil { // msgraph-sdk-go sends adele%40contoso.com
		seg = dec
	}
	key := strings.TrimSuffix(strings.TrimPrefix(seg, "('"), "')")
	p := principal(r)
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tenants[p.TenantID]
	var u *User
	if t != nil {
		if id, err := uuid.Parse(key); err == nil {
			u = t.users[id]
		} else {
			u = t.byUPN[strings.ToLower(key)]
		}
	}
	if u == nil {
		writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
		return nil
	}
	return u
}
