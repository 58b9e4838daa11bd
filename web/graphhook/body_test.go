package graphhook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"presencebridge/internal/notification"
)

// bodyShapes are bodies whose items the single decode and split must read
// as encoding/json reads them item by item, or leave to it.
var bodyShapes = map[string]string{
	"compact":           `{"value":[` + item("sub-1", "state-1", "u1") + `,` + item("sub-1", "state-1", "u2") + `],"validationTokens":["a.b.c"]}`,
	"spaced":            " {\n \"validationTokens\" : [ \"a.b.c\" , \"d\" ] ,\r\n\t\"value\" : [ {\"subscriptionId\" : \"sub-1\" , \"clientState\":\"state 1\", \"resourceData\" : { \"id\" : \"u 1\" } } , {\"subscriptionId\":\"sub-2\"}\n]\n} \n",
	"html and U+2028":   `{"value":[{"subscriptionId":"<sub>&\u2028","clientState":"a` + "\u2028\u2029<>&" + `b","tenantId":"t"}]}`,
	"escaped quotes":    `{"value":[{"subscriptionId":"s\"}]\\","clientState":"\\\\\"[{","tenantId":"\\"}, {"subscriptionId":"x"}]}`,
	"other keys first":  `{"a":{"value":[1,2]},"b":["value",{"c":"]"}],"n":-1.5e3,"t":true,"z":null,"value":[{"subscriptionId":"s"}]}`,
	"empty":             `{"value":[]}`,
	"a non-object item": `{"value":["not an object",3,null,{"subscriptionId":"s"}]}`,
	"an item that does not decode": `{"value":[{"subscriptionId":"s","subscriptionExpirationDateTime":"yesterday"},` +
		`{"subscriptionId":"t","clientState":"c"}]}`,
	"value twice":       `{"value":[{"subscriptionId":"forged"}],"value":[{"subscriptionId":"s"}]}`,
	"value in capitals": `{"value":[{"subscriptionId":"s"}],"VALUE":[{"subscriptionId":"forged"}]}`,
	"an escaped key":    `{"value":[{"subscriptionId":"s"}],"\u0076alue":[{"subscriptionId":"forged"}]}`,
	"escaped key alone": `{"\u0076alue":[{"subscriptionId":"s"}]}`,
	"trailing garbage":  `{"value":[{"subscriptionId":"s"}]} x`,
	"unterminated":      `{"value":[{"subscriptionId":"s"}`,
	"no value":          `{"validationTokens":["a"]}`,
	"value null":        `{"value":null}`,
	"an array":          `[{"value":[]}]`,
}

// TestEveryBodyIsReadAsEncodingJSONReadsItsItemsAndStoredAsJSONMarshalWritesThem:
// whichever way a body is parsed — decoded once and split, or item by
// item — its items, their validity and the inbox row's payload are what
// encoding/json makes of each item alone, byte for byte.
func TestEveryBodyIsReadAsEncodingJSONReadsItsItemsAndStoredAsJSONMarshalWritesThem(t *testing.T) {
	for name, body := range bodyShapes {
		var sent struct {
			Value            []json.RawMessage `json:"value"`
			ValidationTokens []string          `json:"validationTokens"`
		}
		coll, _, err := parse([]byte(body))
		if json.Unmarshal([]byte(body), &sent) != nil || sent.Value == nil {
			if !errors.Is(err, errNotCollection) {
				t.Errorf("%s: not a collection, parsed with error %v", name, err)
			}
			continue
		}
		if err != nil || len(coll.items) != len(sent.Value) || !reflect.DeepEqual(coll.ValidationTokens, sent.ValidationTokens) {
			t.Errorf("%s: parsed %d items (%v), tokens %q; want %d, %q", name, len(coll.items), err, coll.ValidationTokens, len(sent.Value), sent.ValidationTokens)
			continue
		}
		raws := make([][]byte, len(sent.Value))
		for i, raw := range sent.Value {
			var n notification.Notification
			bad := json.Unmarshal(raw, &n) != nil
			got := coll.items[i]
			if got.malformed != bad || !bad && !reflect.DeepEqual(got.n, n) {
				t.Errorf("%s: item %d read as %+v (malformed %v), want %+v (malformed %v)", name, i, got.n, got.malformed, n, bad)
			}
			raws[i] = got.raw
		}
		want, _ := json.Marshal(struct {
			Value            []json.RawMessage `json:"value"`
			ValidationTokens []string          `json:"validationTokens,omitempty"`
		}{sent.Value, sent.ValidationTokens})
		if got := appendPayload(nil, raws, coll.ValidationTokens); string(got) != string(want) {
			t.Errorf("%s: payload\n%s\nwant\n%s", name, got, want)
		}
	}
}

// TestOnlyPlainlyShapedBodiesAreSplit: the split takes a body whose items
// it finds unambiguously, and leaves the others to the item-by-item parse
// (it must never pick another "value" than encoding/json does).
func TestOnlyPlainlyShapedBodiesAreSplit(t *testing.T) {
	for name, split := range map[string]bool{
		"compact": true, "spaced": true, "html and U+2028": true, "escaped quotes": true, "other keys first": true, "empty": true,
		"a non-object item": true, "an item that does not decode": true,
		"value twice": false, "value in capitals": false, "an escaped key": false, "escaped key alone": false, "unterminated": false,
		"no value": false, "value null": false, "an array": false,
	} {
		items, ok := splitValue([]byte(bodyShapes[name]))
		if ok != split {
			t.Errorf("%s: split %v (%d items), want %v", name, ok, len(items), split)
		}
	}
	if items, ok := splitValue([]byte(bodyShapes["escaped quotes"])); !ok || len(items) != 2 || !strings.HasSuffix(string(items[0]), `"tenantId":"\\"}`) {
		t.Errorf("escaped quotes split into %q", items)
	}
}
