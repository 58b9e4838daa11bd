package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"presencebridge/internal/store"
)

// Idempotency-Key, as Stripe and the IETF draft (draft-ietf-httpapi-
// idempotency-key-header) have it: a POST, PUT, PATCH or DELETE sent with
// the header is carried out once per key and API key within
// store.IdempotencyWindow; a retry with the same key and the same request
// gets the first answer again (with Idempotent-Replayed: true), one with
// the same key and another request is 422, and one while the first still
// runs is 409. An answer of ours that failed (5xx) is not remembered, so a
// retry runs the request again.

const (
	idempotencyHeader = "Idempotency-Key"
	maxIdempotencyKey = 255
	// maxRememberedBody bounds the request body read to fingerprint it
	// (the largest the API takes is a 10,000-user upsert).
	maxRememberedBody = 8 << 20
)

// idempotent carries out each keyed write once (see above).
func (d Deps) idempotent(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		key := ctx.Header(idempotencyHeader)
		switch ctx.Method() {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			next(ctx)
			return
		}
		if key == "" || requiredScope(ctx.Operation()) == "" {
			next(ctx)
			return
		}
		if len(key) > maxIdempotencyKey {
			huma.WriteErr(api, ctx, http.StatusBadRequest, "Idempotency-Key is longer than "+strconv.Itoa(maxIdempotencyKey)+" characters.")
			return
		}
		if !store.Storable(key) {
			huma.WriteErr(api, ctx, http.StatusBadRequest, idempotencyHeader+": "+store.NotText,
				&huma.ErrorDetail{Location: "header." + idempotencyHeader, Message: store.NotText})
			return
		}
		if !store.Storable(ctx.URL().Path) {
			// Nothing to remember: the operation refuses such a path
			// itself (register), and the key's row could not hold it.
			next(ctx)
			return
		}
		r, _ := humachi.Unwrap(ctx)
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRememberedBody+1))
		if err != nil {
			huma.WriteErr(api, ctx, http.StatusBadRequest, "The request body could not be read.")
			return
		}
		if len(body) > maxRememberedBody {
			huma.WriteErr(api, ctx, http.StatusRequestEntityTooLarge, "The request body is too large.")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		u := ctx.URL()
		io.WriteString(h, ctx.Method()+" "+u.Path+"?"+u.RawQuery+"\n")
		h.Write(body)
		hash := h.Sum(nil)

		apiKey := keyOf(ctx.Context()).ID
		prev, claimed, err := d.Store.ClaimIdempotencyKey(ctx.Context(), apiKey, key, ctx.Method(), u.Path, hash)
		if err != nil {
			d.Logger.ErrorContext(ctx.Context(), "api: idempotency key", "err", err)
			ctx.SetHeader("Retry-After", "5")
			huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "The request could not be started just now. Try again shortly.")
			return
		}
		if !claimed {
			switch {
			case !prev.Done:
				ctx.SetHeader("Retry-After", "1")
				huma.WriteErr(api, ctx, http.StatusConflict, "A request with this Idempotency-Key is still being carried out. Retry shortly.")
			case subtle.ConstantTimeCompare(prev.Hash, hash) != 1:
				huma.WriteErr(api, ctx, http.StatusUnprocessableEntity,
					"This Idempotency-Key was used with another request: use a new key for a new request.")
			default:
				for name, vs := range prev.Header {
					for _, v := range vs {
						ctx.AppendHeader(name, v)
					}
				}
				ctx.SetHeader("Idempotent-Replayed", "true")
				ctx.SetStatus(prev.Status)
				ctx.BodyWriter().Write(prev.Body)
			}
			return
		}
		rec := &recording{humaContext: ctx, header: http.Header{}}
		completed := false
		defer func() {
			if !completed {
				// A panic or a failure of ours: the request may run again.
				if err := d.Store.ReleaseIdempotencyKey(context.WithoutCancel(ctx.Context()), apiKey, key); err != nil {
					d.Logger.ErrorContext(ctx.Context(), "api: release idempotency key", "err", err)
				}
			}
		}()
		next(rec)
		status := rec.Status()
		if status == 0 {
			status = http.StatusOK
		}
		if status >= 500 {
			return
		}
		if err := d.Store.CompleteIdempotencyKey(context.WithoutCancel(ctx.Context()), apiKey, key, status, rec.header, rec.body.Bytes()); err != nil {
			// The answer went out; a retry will find the key still running
			// until abandoned, and then run the request again.
			d.Logger.ErrorContext(ctx.Context(), "api: remember idempotent answer", "err", err)
			return
		}
		completed = true
	}
}

// humaContext names the embedded interface apart from its Context method.
type humaContext = huma.Context

// recording passes a response on and keeps a copy: its status, the
// headers the handler set and its body.
type recording struct {
	humaContext
	header http.Header
	body   bytes.Buffer
}

func (c *recording) SetHeader(name, value string) {
	c.header.Set(name, value)
	c.humaContext.SetHeader(name, value)
}

func (c *recording) AppendHeader(name, value string) {
	c.header.Add(name, value)
	c.humaContext.AppendHeader(name, value)
}

func (c *recording) BodyWriter() io.Writer {
	return io.MultiWriter(c.humaContext.BodyWriter(), &c.body)
}

// Unwrap lets the adapter find its own context beneath.
func (c *recording) Unwrap() huma.Context { return c.humaContext }
