package store

import (
	"github.com/goccy/go-json"

	"presencebridge/internal/presence"
)

// richColumns are a presence's or an event's rich presence (migration
// 000015: one jsonb column per property, NULL when unknown); scan them
// with richFields.
const richColumns = `status_message, out_of_office, work_location`

// richFields are the scan destinations of richColumns: a NULL leaves the
// property nil.
func richFields(r *presence.Rich) []any {
	return []any{&r.StatusMessage, &r.OutOfOffice, &r.WorkLocation}
}

// richArrays are rich presences as three jsonb[] columns, for unnest.
type richArrays struct {
	status, outOfOffice, workLocation [][]byte
}

func (a *richArrays) add(r presence.Rich) {
	a.status = append(a.status, jsonb(r.StatusMessage))
	a.outOfOffice = append(a.outOfOffice, jsonb(r.OutOfOffice))
	a.workLocation = append(a.workLocation, jsonb(r.WorkLocation))
}

// jsonb is v as JSON, or nil — NULL — for nil.
func jsonb[T any](v *T) []byte {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v) // plain structs of strings, bools and times: it cannot fail
	return b
}
