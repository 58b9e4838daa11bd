package deliver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"presencebridge/internal/presence"
)

// fillAll sets every exported field reachable from v, through pointers,
// embedded structs, slices and maps, to a value that is not its zero:
// an omitempty field nobody writes shows in json.Marshal's answer.
func fillAll(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 2, 10, 0, *n, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), n)
			}
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Array:
		for i := range v.Len() {
			fillAll(v.Index(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillAll(v.Index(0), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k, n)
		fillAll(e, n)
		v.SetMapIndex(k, e)
	default:
		panic(fmt.Sprintf("fillAll: no value for a %s", v.Type()))
	}
}

// TestEventJSONWritesEveryFieldOfTheEvent: eventJSON names the event's
// fields one by one, so a field added to presence.Event later (an
// omitempty one above all, which the random events of
// TestEventJSONIsWhatEncodingJSONWrites would not set) must fail here
// until eventJSON writes it too.
func TestEventJSONWritesEveryFieldOfTheEvent(t *testing.T) {
	var e presence.Event
	n := 0
	fillAll(reflect.ValueOf(&e).Elem(), &n)
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := eventJSON(e)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("an event with every field set:\n got %s (%v)\nwant %s", got, err, want)
	}
}
