package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	jsonpatch "github.com/evanphx/json-patch/v5"
)

// mergePatch applies a JSON Merge Patch (RFC 7396) to current and decodes
// the result strictly (no unknown fields) into a T: 400 when patch is not
// a merge patch, 422 naming what is wrong when the result is no valid
// what.
func mergePatch[T any](current T, patch []byte, what string) (T, error) {
	var next T
	doc, _ := json.Marshal(current)
	b, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return next, huma.Error400BadRequest("The body is not a JSON Merge Patch: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&next); err != nil {
		return next, huma.Error422UnprocessableEntity("The patched " + what + " is not valid: " + humanJSON(err))
	}
	return next, nil
}

// humanJSON says what encoding/json found wrong without Go's type names.
func humanJSON(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be a %s, not a %s", te.Field, jsonKind(te.Type.Kind()), te.Value)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + msg
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "number"
	}
}
