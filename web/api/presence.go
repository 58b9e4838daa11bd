package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
)

// Presence as stored, read three ways: one user (by object id or UPN), up
// to maxPresenceBatch users by object id, and the tenant's whole roster a
// page at a time. Each is what Teams last showed for the user (the same
// values, state and sequence the events carry); a user whose presence has
// not been seen yet is PresenceUnknown with sequence 0.

// maxPresenceBatch is how many users one batch read names: a page of the
// snapshot. (Graph's own read takes 650 ids a call; ours comes from the
// database and is bounded by the answer's size instead.)
const maxPresenceBatch = maxPageSize

// presenceSize is about the length of a user's presence in JSON, without
// rich presence (~280 bytes).
const presenceSize = 300

// userPresence is a user's presence as the API shows it. The id and times
// are formatted here, once, as the strings the description says they are:
// encoding/json's marshalers for uuid.UUID and time.Time cost a snapshot
// page more than reading it from the database.
type userPresence struct {
	UserID       string `json:"userId" format:"uuid" doc:"The user's Microsoft Entra object id."`
	UPN          string `json:"upn" doc:"The UPN or e-mail address as entered in the roster."`
	ExternalID   string `json:"externalId,omitempty" doc:"The telephony platform's own id for the user."`
	Availability string `json:"availability" doc:"Teams' availability: Available, Busy, DoNotDisturb, Away, BeRightBack, Offline, PresenceUnknown…"`
	Activity     string `json:"activity" doc:"Teams' activity: InACall, InAMeeting, Presenting, Available…"`
	State        string `json:"state" enum:"available,talking,busy,away,dnd,offline,unknown" doc:"What the tenant's mapping rules make of it."`
	Sequence     int64  `json:"sequence" doc:"The sequence of the last event sent for the user (0: none yet)."`
	ObservedAt   string `json:"observedAt,omitempty" format:"date-time" doc:"When this presence was seen; absent while none has been."`
	HeldUntil    string `json:"heldUntil,omitempty" format:"date-time" doc:"Set while a change that leaves talking is held back by the tenant's debounce: it is sent then, unless talking resumes."`
	// The status message, out of office and work location, as the
	// events carry them; each absent while unknown.
	presence.Rich
	// encoded, when set, is the presence already written as JSON (the
	// fields above left empty): see encodedBody.
	encoded *[]byte
}

func (p userPresence) encodedJSON() *[]byte { return p.encoded }

func toPresence(p store.UserPresence) userPresence {
	out := userPresence{UserID: p.ObjectID.String(), UPN: p.UPN, ExternalID: p.ExternalID, Availability: p.Availability,
		Activity: p.Activity, State: p.MappedState, Sequence: p.Sequence, ObservedAt: timestamp(p.ObservedAt), HeldUntil: timestamp(p.HeldUntil),
		Rich: p.Rich}
	if !p.Known {
		out.Availability, out.Activity, out.State = tenantview.UnknownPresence, tenantview.UnknownPresence, string(presence.Unknown)
	}
	return out
}

// timestamp is t as JSON has it (time.Time's MarshalJSON: RFC 3339 with
// the nanoseconds it has), or "" for none (zero).
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

type presenceOutput struct{ Body userPresence }

type presenceList struct{ Body list[userPresence] }

type snapshotInput struct {
	Cursor string `query:"cursor" maxLength:"100" doc:"The nextCursor of the page before; absent: the first page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"1000" doc:"How many users at most."`
}

type batchInput struct {
	Body struct {
		IDs []string `json:"ids" minItems:"1" maxItems:"1000" uniqueItems:"true" doc:"Users' object ids, up to 1,000." format:"uuid"`
	}
}

type batchOutput struct {
	Body struct {
		Data     []userPresence `json:"data" nullable:"false" doc:"The users on the roster, in object id order."`
		NotFound []uuid.UUID    `json:"notFound" nullable:"false" doc:"The ids of no user on the tenant's roster."`
	}
}

func (s resources) registerPresence(api huma.API) {
	op := withStatus(operation("get-user-presence", http.MethodGet, "/users/{id}/presence", "Get a user's presence",
		store.ScopePresenceRead, "Presence"), http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *userRef) (*presenceOutput, error) {
		p, err := s.Store.FindUserPresence(ctx, keyOf(ctx).TenantID, in.ID)
		if errors.Is(err, store.ErrUserNotFound) {
			return nil, errNoUser()
		}
		if err != nil {
			return nil, s.unavailable(ctx, "get user presence", err)
		}
		// Written as the snapshot's are (encoded.go): the read most often
		// made, where encoding/json's reflection was a tenth of the
		// handler's CPU.
		buf := newEncoded(presenceSize)
		*buf = append(tenantview.AppendPresenceJSON(*buf, &p), '\n')
		return &presenceOutput{Body: userPresence{encoded: buf}}, nil
	})

	op = operation("get-presences", http.MethodPost, "/presence:batch", "Get many users' presence", store.ScopePresenceRead, "Presence")
	op.Description = "A read, sent as POST because 1,000 ids do not fit in a URL; it changes nothing."
	register(api, op, func(ctx context.Context, in *batchInput) (*batchOutput, error) {
		ids := make([]uuid.UUID, len(in.Body.IDs))
		for i, id := range in.Body.IDs {
			ids[i], _ = uuid.Parse(id) // checked as format uuid
		}
		ps, err := s.Store.PresencesOf(ctx, keyOf(ctx).TenantID, ids)
		if err != nil {
			return nil, s.unavailable(ctx, "get presences", err)
		}
		out := &batchOutput{}
		out.Body.Data, out.Body.NotFound = make([]userPresence, 0, len(ps)), []uuid.UUID{}
		found := make(map[uuid.UUID]bool, len(ps))
		for _, p := range ps {
			out.Body.Data = append(out.Body.Data, toPresence(p))
			found[p.ObjectID] = true
		}
		for _, id := range ids {
			if !found[id] {
				out.Body.NotFound = append(out.Body.NotFound, id)
			}
		}
		return out, nil
	})

	op = operation("list-presence", http.MethodGet, "/presence", "Read every user's presence", store.ScopePresenceRead, "Presence")
	op.Description = "The tenant's snapshot: every user of the roster with an object id, in object id order, a page at a time. " +
		"To start from it, connect the event stream first, then read the snapshot: an event whose sequence is not above the user's " +
		"sequence here is already in it."
	register(api, op, func(ctx context.Context, in *snapshotInput) (*presenceList, error) {
		after := uuid.Nil
		if in.Cursor != "" {
			b, err := fromCursor(in.Cursor)
			if err == nil {
				after, err = uuid.FromBytes(b)
			}
			if err != nil {
				return nil, badCursor(in.Cursor)
			}
		}
		// The page is written as JSON as its rows arrive (encoded.go).
		buf := newEncoded(in.Limit * presenceSize)
		b := append(*buf, `{"data":[`...)
		n, more := 0, false
		var last uuid.UUID
		err := s.Store.PresencePage(ctx, keyOf(ctx).TenantID, after, in.Limit+1, func(p *store.UserPresence) error {
			if n == in.Limit {
				more = true // the one read past the page: there is a next one
				return nil
			}
			if n > 0 {
				b = append(b, ',')
			}
			b, last, n = tenantview.AppendPresenceJSON(b, p), p.ObjectID, n+1
			return nil
		})
		if err != nil {
			return nil, s.unavailable(ctx, "list presence", err)
		}
		b = append(b, ']')
		if more {
			b = append(append(append(b, `,"nextCursor":"`...), cursor(last[:])...), '"') // base64url: nothing to escape
		}
		*buf = append(b, "}\n"...)
		out := &presenceList{Body: list[userPresence]{encoded: buf}}
		return out, nil
	})
}
