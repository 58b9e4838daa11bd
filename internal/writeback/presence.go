package writeback

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/presence"
)

// SetPresence sets the user's presence in our app's own presence session
// (setPresence, sessionId our client id), which Teams combines with the
// user's own clients: DoNotDisturb beats Busy beats Available beats Away,
// and a preferred presence beats them all. Only presence.SessionPairs are
// accepted; Expires 0 is presence.DefaultSessionExpiry.
// https://learn.microsoft.com/en-us/graph/api/presence-setpresence
func (w *Writer) SetPresence(ctx context.Context, tenantID, userObjectID uuid.UUID, req SetRequest) (Result, error) {
	pair, ok := presence.MatchSessionPair(req.Availability, req.Activity)
	if !ok {
		return Result{}, pairError("setPresence", req, presence.SessionPairs())
	}
	expires := req.Expires
	if expires == 0 {
		expires = presence.DefaultSessionExpiry
	}
	if !presence.ValidSessionExpiry(expires) {
		return Result{}, &InvalidError{Field: "expires",
			Reason: fmt.Sprintf("%v is outside setPresence's %v to %v", expires, presence.MinSessionExpiry, presence.MaxSessionExpiry)}
	}
	aw, err := w.client(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	user := userObjectID.String()
	attempts, err := w.withEcho(ctx, tenantID, userObjectID, pair, func(ctx context.Context) error {
		return aw.SetPresence(ctx, user, aw.Access.ClientID, pair.Availability, pair.Activity, expires)
	})
	if err != nil {
		return Result{Attempts: attempts}, failed(tenantID, err)
	}
	now := w.opts.Now()
	res := Result{Availability: pair.Availability, Activity: pair.Activity, Expires: now.Add(expires), Attempts: attempts}
	res.RefreshBy = res.Expires
	if strings.EqualFold(pair.Availability, "Available") {
		res.RefreshBy = now.Add(presence.SessionFade)
	}
	return res, nil
}

// ClearPresence ends our app's presence session for the user; Teams shows
// what the user's own clients say again. No session to end is not an
// error (Result.NoSession). No echo is recorded: what Teams shows next is
// the user's own state, which the platform should learn.
// https://learn.microsoft.com/en-us/graph/api/presence-clearpresence
func (w *Writer) ClearPresence(ctx context.Context, tenantID, userObjectID uuid.UUID) (Result, error) {
	aw, err := w.client(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	user := userObjectID.String()
	attempts, err := w.retry(ctx, func(ctx context.Context) error {
		return aw.ClearPresence(ctx, user, aw.Access.ClientID)
	})
	if graphapi.IsNotFound(err) {
		// Graph answers 404 for a session that does not exist, and for a
		// user who does not: either way no session of ours shows.
		return Result{Attempts: attempts, NoSession: true}, nil
	}
	if err != nil {
		return Result{Attempts: attempts}, failed(tenantID, err)
	}
	return Result{Attempts: attempts}, nil
}

// SetPreferred sets the user's preferred presence, what they would pick
// in Teams; it beats every session but shows only while the user has one
// (their Teams client, or our session). Only presence.PreferredPairs are
// accepted; Expires 0 is Graph's default.
// https://learn.microsoft.com/en-us/graph/api/presence-setuserpreferredpresence
func (w *Writer) SetPreferred(ctx context.Context, tenantID, userObjectID uuid.UUID, req SetRequest) (Result, error) {
	pair, ok := presence.MatchPreferredPair(req.Availability, req.Activity)
	if !ok {
		return Result{}, pairError("setUserPreferredPresence", req, presence.PreferredPairs())
	}
	if req.Expires < 0 {
		return Result{}, &InvalidError{Field: "expires", Reason: fmt.Sprintf("%v is not a duration Graph accepts", req.Expires)}
	}
	aw, err := w.client(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	user := userObjectID.String()
	attempts, err := w.withEcho(ctx, tenantID, userObjectID, pair, func(ctx context.Context) error {
		return aw.SetPreferredPresence(ctx, user, pair.Availability, pair.Activity, req.Expires)
	})
	if err != nil {
		return Result{Attempts: attempts}, failed(tenantID, err)
	}
	lasts := req.Expires
	if lasts == 0 {
		lasts = presence.DefaultPreferredExpiry(pair.Availability)
	}
	exp := w.opts.Now().Add(lasts)
	return Result{Availability: pair.Availability, Activity: pair.Activity, Expires: exp, RefreshBy: exp, Attempts: attempts}, nil
}

// ClearPreferred removes the user's preferred presence; clearing none is
// not an error. No echo, as for ClearPresence.
// https://learn.microsoft.com/en-us/graph/api/presence-clearuserpreferredpresence
func (w *Writer) ClearPreferred(ctx context.Context, tenantID, userObjectID uuid.UUID) (Result, error) {
	aw, err := w.client(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	user := userObjectID.String()
	attempts, err := w.retry(ctx, func(ctx context.Context) error { return aw.ClearPreferredPresence(ctx, user) })
	if err != nil {
		return Result{Attempts: attempts}, failed(tenantID, err)
	}
	return Result{Attempts: attempts}, nil
}

// SetStatusMessage sets (an empty Message clears) the user's status
// message. It changes no availability or activity, so the intake sends
// nothing when Graph reports it and no echo is needed.
// https://learn.microsoft.com/en-us/graph/api/presence-setstatusmessage
func (w *Writer) SetStatusMessage(ctx context.Context, tenantID, userObjectID uuid.UUID, req StatusRequest) (Result, error) {
	if !req.Expires.IsZero() && !req.Expires.After(w.opts.Now()) {
		return Result{}, &InvalidError{Field: "expires", Reason: "the status message would expire before it is set"}
	}
	aw, err := w.client(ctx, tenantID)
	if err != nil {
		return Result{}, err
	}
	user := userObjectID.String()
	attempts, err := w.retry(ctx, func(ctx context.Context) error {
		return aw.SetStatusMessage(ctx, user, req.Message, req.Expires)
	})
	if err != nil {
		return Result{Attempts: attempts}, failed(tenantID, err)
	}
	return Result{Expires: req.Expires, RefreshBy: req.Expires, Attempts: attempts}, nil
}

func pairError(op string, req SetRequest, allowed []presence.Pair) *InvalidError {
	return &InvalidError{Field: "availability/activity", Allowed: allowed,
		Reason: fmt.Sprintf("%s does not accept %s/%s", op, req.Availability, req.Activity)}
}

// failed wraps a write's error once, with the tenant (Graph's errors name
// the operation and the user); Graph's 404 is ErrUserNotFound.
func failed(tenantID uuid.UUID, err error) error {
	if graphapi.IsNotFound(err) {
		return fmt.Errorf("%w (tenant %s): %w", ErrUserNotFound, tenantID, err)
	}
	return fmt.Errorf("writeback: tenant %s: %w", tenantID, err)
}
