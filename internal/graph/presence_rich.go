package graph

import (
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"presencebridge/internal/graph/graphapi"
)

// richOf reads the status message, out-of-office settings and work
// location of a presence the SDK decoded (docs/graph.md#presence).
func richOf(p models.Presenceable) graphapi.RichPresence {
	var out graphapi.RichPresence
	if sm := p.GetStatusMessage(); sm != nil {
		s := &graphapi.StatusMessage{}
		if m := sm.GetMessage(); m != nil {
			s.Message.Content = deref(m.GetContent())
			if ct := m.GetContentType(); ct != nil {
				s.Message.ContentType = ct.String()
			}
		}
		if e := sm.GetExpiryDateTime(); e != nil {
			s.ExpiryDateTime = &graphapi.DateTimeTimeZone{DateTime: deref(e.GetDateTime()), TimeZone: deref(e.GetTimeZone())}
		}
		if at := sm.GetPublishedDateTime(); at != nil {
			s.PublishedDateTime = &graphapi.Time{Time: at.UTC()}
		}
		out.StatusMessage = s
	}
	if oo := p.GetOutOfOfficeSettings(); oo != nil {
		out.OutOfOfficeSettings = &graphapi.OutOfOfficeSettings{Message: oo.GetMessage(), IsOutOfOffice: deref(oo.GetIsOutOfOffice())}
	}
	out.WorkLocation = workLocationOf(p.GetAdditionalData())
	return out
}

// workLocationOf reads workLocation from what the SDK could not place: its
// models (v1.89) predate the property, so the JSON decoder keeps it among
// the additional data as a map of raw values, strings as *string
// (docs/graph.md#msgraph-sdk-go). An SDK that learns the property would
// leave it out of there; the graph tests read it against graphsim and
// would see it go missing.
func workLocationOf(extra map[string]any) *graphapi.WorkLocation {
	raw, ok := extra["workLocation"].(map[string]any)
	if !ok {
		return nil
	}
	text := func(k string) *string {
		switch v := raw[k].(type) {
		case *string:
			return v
		case string:
			return &v
		}
		return nil
	}
	return &graphapi.WorkLocation{WorkLocationType: deref(text("workLocationType")), Source: deref(text("source")), PlaceID: text("placeId")}
}
