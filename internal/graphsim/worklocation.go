package graphsim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// A user's work location as Graph aggregates it into the presence resource
// (userWorkLocation, https://learn.microsoft.com/en-us/graph/api/resources/userworklocation):
// up to three layers — manual (the user chose), automatic (a device
// detected), scheduled (working hours) — of which the first set in that
// order wins; with none set, source is none and workLocationType
// unspecified. Microsoft also ranks precision within a layer (office and
// building beats office); here a layer holds one value, so it never
// arises. Graph's own location actions (setManualLocation and the rest)
// are not emulated: the control API sets the layers, as the user's
// devices and calendar would.

// WorkLocation is userWorkLocation. Its zero value is what Graph shows
// when no layer is set.
type WorkLocation struct {
	WorkLocationType string  `json:"workLocationType"`
	Source           string  `json:"source"`
	PlaceID          *string `json:"placeId"`
}

// MarshalJSON implements json.Marshaler: the zero value is written as
// Graph writes "no location" (unspecified, from source none).
func (w WorkLocation) MarshalJSON() ([]byte, error) {
	type plain WorkLocation
	if w.WorkLocationType == "" {
		w.WorkLocationType = "unspecified"
	}
	if w.Source == "" {
		w.Source = "none"
	}
	return json.Marshal(plain(w))
}

// UnmarshalJSON implements json.Unmarshaler: "no location" as Graph
// writes it reads back as the zero value, so a presence stored in a
// snapshot compares equal to the same presence computed again.
func (w *WorkLocation) UnmarshalJSON(b []byte) error {
	type plain WorkLocation
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.WorkLocationType == "unspecified" && p.Source == "none" && p.PlaceID == nil {
		p = plain{}
	}
	*w = WorkLocation(p)
	return nil
}

type workLocationLayer struct {
	kind    string
	placeID *string
}

// workLocationSources are the layers, strongest first.
var workLocationSources = []string{"manual", "automatic", "scheduled"}

// workLocationTypes spells each documented workLocationType as Graph does.
var workLocationTypes = map[string]string{"unspecified": "unspecified", "office": "office", "remote": "remote", "timeoff": "timeOff"}

// workLocation aggregates the layers.
func (u *userPresence) workLocation() WorkLocation {
	for _, src := range workLocationSources {
		if l, ok := u.locations[src]; ok {
			return WorkLocation{WorkLocationType: l.kind, Source: src, PlaceID: l.placeID}
		}
	}
	return WorkLocation{}
}

// SetWorkLocation sets one layer (source manual, automatic or scheduled)
// of the user's work location to kind (office, remote, timeOff) and an
// optional place id; kind unspecified or empty clears the layer. A change
// of the aggregate notifies like any other change of presence.
func (s *Sim) SetWorkLocation(userID uuid.UUID, source, kind, placeID string) error {
	s.mu.RLock()
	usr := s.users[userID]
	s.mu.RUnlock()
	if usr == nil {
		return fmt.Errorf("no user %s", userID)
	}
	source = strings.ToLower(source)
	if source == "" {
		source = "manual"
	}
	known := false
	for _, src := range workLocationSources {
		known = known || src == source
	}
	if !known {
		return fmt.Errorf("source %q must be manual, automatic or scheduled", source)
	}
	spelt, ok := workLocationTypes[strings.ToLower(kind)]
	if !ok && kind != "" {
		return fmt.Errorf("workLocationType %q must be office, remote, timeOff or unspecified", kind)
	}
	return s.updatePresence(usr.TenantID, userID, s.clock(), func(u *userPresence) error {
		if spelt == "" || spelt == "unspecified" {
			delete(u.locations, source)
			return nil
		}
		if u.locations == nil {
			u.locations = map[string]workLocationLayer{}
		}
		l := workLocationLayer{kind: spelt}
		if placeID != "" {
			l.placeID = &placeID
		}
		u.locations[source] = l
		return nil
	})
}
