package notification

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzUnmarshalDecodesAsEncodingJSON: Unmarshal (goccy/go-json) accepts
// exactly the bodies encoding/json accepts and reads them alike — a
// collection as the door and the processor read it, and a decrypted
// presence. web/graphhook's checks of what it will store (storable.go)
// are written against encoding/json's reading: a body read otherwise
// there would be checked for one thing and acted on as another.
func FuzzUnmarshalDecodesAsEncodingJSON(f *testing.F) {
	for _, body := range []string{
		`{"value":[` + richItem + `],"validationTokens":["eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"]}`,
		`{"value":[{"subscriptionId":"s1","SubscriptionId":"s2","ſubscriptionId":"s3","clientState":"c","tenantId":"t"}]}`,
		`{"value":[{"subscriptionId":"a\u0000b\ud800","clientState":"\xff\xfe","subscriptionExpirationDateTime":null}]}`,
		`{"value":[{"resourceData":{"id":"x","ID":"y","İD":"z"},"encryptedContent":{"dataKey":"a","dataKey":"k"}}]}`,
		`{"value":[{"subscriptionExpirationDateTime":"2026-11-23T10:00:00.1234567"}],"validationTokens":null}`,
		`{"value":[],"value":null}`, `{"value":[{}]} x`, `{"value":[{},]}`, `{"value":[1e400]}`, `[]`, ``, `null`,
		`{"@odata.type":"#microsoft.graph.presence","id":"u","availability":"Busy","activity":"InACall","sequenceNumber":"1",
		"statusMessage":{"message":{"content":"hi","contentType":"text"},"expiryDateTime":{"dateTime":"2026-11-23T10:00:00","timeZone":"UTC"}},
		"outOfOfficeSettings":{"message":"away","isOutOfOffice":true},"workLocation":{"workLocationType":"office","source":"manual"}}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		same(t, body, func() any { return new(Collection) })
		same(t, body, func() any { return new(Presence) })
	})
}

// same decodes body into two fresh values of one type with Unmarshal and
// with encoding/json and fails unless both refuse it or both read the
// same.
func same(t *testing.T, body []byte, fresh func() any) {
	t.Helper()
	ours, std := fresh(), fresh()
	errOurs, errStd := Unmarshal(body, ours), json.Unmarshal(body, std)
	switch {
	case (errOurs == nil) != (errStd == nil):
		t.Fatalf("%T from %q: Unmarshal says %v, encoding/json %v", ours, body, errOurs, errStd)
	case errOurs == nil && !reflect.DeepEqual(ours, std):
		t.Fatalf("%T from %q read otherwise:\nUnmarshal     %+v\nencoding/json %+v", ours, body, ours, std)
	}
}
