package api

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"presencebridge/internal/store"
)

// Every string an operation takes — in its path, its query, its headers
// or its body — is checked with store.Storable before the handler runs:
// PostgreSQL refuses a NUL or bytes that are not UTF-8, and a user's UPN
// in the path (/users/{id}), a search (?q=) or a key's name that held one
// reached a query and was answered 503. Checking the decoded input as a
// whole, by its type, covers every operation, including those to come,
// without each handler remembering to. A bad string in the path, the query
// or a header is 400, in the body 422, naming where it was.

// register is huma.Register, with the input's strings checked first (see
// above). Every operation of the API is registered through it.
func register[I, O any](api huma.API, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	check := textCheck(reflect.TypeFor[I](), true)
	if check != nil && hasParams(reflect.TypeFor[I]()) && !slices.Contains(op.Errors, http.StatusBadRequest) {
		op.Errors = append(op.Errors, http.StatusBadRequest)
	}
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		if check != nil {
			if loc, bad := check(reflect.ValueOf(in).Elem()); bad {
				return nil, notText(loc)
			}
		}
		return handler(ctx, in)
	})
}

// notText is the problem of a string that is not storable at loc.
func notText(loc string) error {
	status := http.StatusBadRequest
	if loc == "body" || strings.HasPrefix(loc, "body.") || strings.HasPrefix(loc, "body[") {
		status = http.StatusUnprocessableEntity
	}
	return huma.NewError(status, loc+": "+store.NotText, &huma.ErrorDetail{Location: loc, Message: store.NotText})
}

// A textWalker looks through a value of one type for a string that is not
// storable, and returns where it is (relative to the value: ".name",
// "[3].upn"; built only when one is found).
type textWalker func(v reflect.Value) (loc string, bad bool)

// textCheck is the walker of t, or nil when t holds no string. At the top
// (the operation's input), only parameters and Body are read, named as
// huma names them: path.id, query.q, header.Idempotency-Key, body.name.
func textCheck(t reflect.Type, top bool) textWalker {
	return walkerOf(t, top, map[reflect.Type]bool{})
}

func walkerOf(t reflect.Type, top bool, seen map[reflect.Type]bool) textWalker {
	switch t.Kind() {
	case reflect.String:
		return func(v reflect.Value) (string, bool) { return "", !store.Storable(v.String()) }
	case reflect.Pointer:
		elem := walkerOf(t.Elem(), top, seen)
		if elem == nil {
			return nil
		}
		return func(v reflect.Value) (string, bool) {
			if v.IsNil() {
				return "", false
			}
			return elem(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		elem := walkerOf(t.Elem(), false, seen)
		if elem == nil || t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		return func(v reflect.Value) (string, bool) {
			for i := range v.Len() {
				if loc, bad := elem(v.Index(i)); bad {
					return "[" + strconv.Itoa(i) + "]" + loc, true
				}
			}
			return "", false
		}
	case reflect.Map:
		key, val := walkerOf(t.Key(), false, seen), walkerOf(t.Elem(), false, seen)
		if key == nil && val == nil {
			return nil
		}
		return func(v reflect.Value) (string, bool) {
			for it := v.MapRange(); it.Next(); {
				if key != nil {
					if _, bad := key(it.Key()); bad {
						return "", true
					}
				}
				if val != nil {
					if loc, bad := val(it.Value()); bad {
						return "." + it.Key().String() + loc, true
					}
				}
			}
			return "", false
		}
	case reflect.Struct:
		return structWalker(t, top, seen)
	}
	return nil
}

// structWalker walks the fields of a struct that may hold strings.
func structWalker(t reflect.Type, top bool, seen map[reflect.Type]bool) textWalker {
	if seen[t] {
		return nil // a recursive type: none of the API's inputs is one
	}
	seen[t] = true
	defer delete(seen, t)
	type field struct {
		index int
		name  string
		walk  textWalker
	}
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		name, ok := fieldLocation(f, top)
		if !ok {
			continue
		}
		if w := walkerOf(f.Type, top && f.Anonymous, seen); w != nil {
			fields = append(fields, field{i, name, w})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return func(v reflect.Value) (string, bool) {
		for _, f := range fields {
			if loc, bad := f.walk(v.Field(f.index)); bad {
				return f.name + loc, true
			}
		}
		return "", false
	}
}

// fieldLocation is how a field is named in a location ("" for an embedded
// struct, whose fields are its parent's), or false for a field the
// request does not set.
func fieldLocation(f reflect.StructField, top bool) (string, bool) {
	if f.Anonymous && f.Tag.Get("json") == "" {
		return "", true
	}
	if top {
		for _, in := range []string{"path", "query", "header"} {
			if name, _, _ := strings.Cut(f.Tag.Get(in), ","); name != "" {
				return in + "." + name, true
			}
		}
		return "body", f.Name == "Body"
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		name = f.Name
	}
	return "." + name, true
}

// hasParams says whether an input of struct type t takes a string
// parameter (in the path, query or headers), which may then be answered
// 400.
func hasParams(t reflect.Type) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := fieldLocation(f, true)
		switch {
		case !ok || name == "body":
		case name == "":
			if f.Type.Kind() == reflect.Struct && hasParams(f.Type) {
				return true
			}
		case walkerOf(f.Type, false, map[reflect.Type]bool{}) != nil:
			return true
		}
	}
	return false
}
