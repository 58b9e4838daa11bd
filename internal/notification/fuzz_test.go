// FuzzValidationTokens signs a token for every input: with 512-bit keys,
// which crypto/rsa refuses unless told otherwise, that costs a sixth of
// 1024 bits' time, so a million inputs take minutes. What is checked is
// the token's claims and that its signature is the identity platform's,
// not the key's strength.
//
//go:debug rsa1024min=0

package notification

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Hostile input for what the intake reads from a POST anyone can send:
// the collection, the encrypted content and the validation tokens. The
// committed corpora are in testdata/fuzz/<FuzzName>; `make fuzz-short`
// runs each target for seconds, `make fuzz-long` for 1,000,000 inputs.

// richItem is a rich presence item as Graph (and graphsim) sends it.
const richItem = `{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","clientState":"secretClientValue","changeType":"updated",
"tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","resource":"communications/presences?$filter=id+in+(%27fa8bf3dc-eca7-46b7-bad1-db199b62afc3%27)",
"subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z","resourceData":{"@odata.type":"#Microsoft.Graph.presence",
"@odata.id":"users/fa8bf3dc-eca7-46b7-bad1-db199b62afc3/presence","id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3"},
"organizationId":"72f988bf-86f1-41af-91ab-2d7cd011db47","encryptedContent":{"data":"q5/3eS2WZmQKUL8+HFmaGA==",
"dataSignature":"0jYSXGGNN9kDnaKmmkInL2HHbh7nSNTUq2VXKtfH4fw=","dataKey":"bm90IGEgcmVhbCBrZXk=",
"encryptionCertificateId":"cert-1","encryptionCertificateThumbprint":"2CBA6CF3B8D6FE4A3BC2B0E6AD8E1C9F0D4B9F2E"}}`

// FuzzParse: a body Parse accepts is a collection whose every item names
// a subscription, and serializing it gives a body Parse reads back as the
// same collection (times to Graph's 100 ns), whose serialization is the
// same bytes; a body it refuses is ErrNotCollection.
func FuzzParse(f *testing.F) {
	for _, body := range []string{
		`{"value":[` + richItem + `],"validationTokens":["eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"]}`,
		`{"value":[{"subscriptionId":"s1","subscriptionExpirationDateTime":"2024-04-19T23:58:00.4569264","changeType":"updated","clientState":"c",
		"resource":"presences('u1')","tenantId":"t1","resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/u1/presence","id":"u1"}}]}`,
		`{"value":[{"subscriptionId":"s2","subscriptionExpirationDateTime":"2026-11-23T10:00:00+02:00","lifecycleEvent":"reauthorizationRequired","tenantId":"t1","clientState":"c"}]}`,
		`{"value":[]}`, `{"value":[{}]}`, `{"value":null}`, `[]`, ``,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrNotCollection) {
				t.Fatalf("refused with %v, not ErrNotCollection", err)
			}
			return
		}
		if c.Value == nil {
			t.Fatal("accepted without a value array")
		}
		for i, n := range c.Value {
			if n.SubscriptionID == "" {
				t.Fatalf("item %d accepted without a subscriptionId", i)
			}
		}
		once, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a parsed collection does not serialize: %v", err)
		}
		// Parse refuses a date-time whose year in UTC is outside
		// 0000–9999 (graphapi.ParseTime, since 599ffca), the years
		// graphapi.Time writes and reads back, so every accepted
		// collection serializes (checked above) and round-trips.
		again, err := Parse(once)
		if err != nil {
			t.Fatalf("Parse refuses its own serialization %s: %v", once, err)
		}
		twice, _ := json.Marshal(again)
		if !bytes.Equal(once, twice) {
			t.Fatalf("serialization is not stable:\n%s\n%s", once, twice)
		}
		for i := range c.Value {
			want := c.Value[i].SubscriptionExpiration.Truncate(100 * time.Nanosecond)
			if got := again.Value[i].SubscriptionExpiration; !got.Equal(want) {
				t.Fatalf("item %d: expiry %v came back as %v", i, want, got)
			}
			c.Value[i].SubscriptionExpiration, again.Value[i].SubscriptionExpiration = Time{}, Time{}
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the collection:\n%+v\n%+v", c, again)
		}
	})
}

// FuzzDecrypt: what Encrypt makes for our key decrypts to the plaintext;
// content changed in any way — a byte of the data, signature or data key
// flipped, the data cut short or extended, data and signature replaced —
// is refused as ErrTampered (or, when it is not even base64,
// ErrMalformed), never decrypted.
func FuzzDecrypt(f *testing.F) {
	cert, priv := selfSignedBits(f, 1024)
	keys := NewKeys(Key{ID: "k1", Certificate: cert, Private: priv})
	presence := []byte(`{"@odata.type":"#microsoft.graph.presence","@odata.id":"users/fa8bf3dc-eca7-46b7-bad1-db199b62afc3/presence",` +
		`"id":"fa8bf3dc-eca7-46b7-bad1-db199b62afc3","availability":"Busy","activity":"InACall","sequenceNumber":"C4D6F4A1B2"}`)
	for mode := range uint8(tamperModes) {
		f.Add(presence, mode, uint16(7), byte(1), "q5/3eS2WZmQKUL8+HFmaGA==", "0jYSXGGNN9kDnaKmmkInL2HHbh7nSNTUq2VXKtfH4fw=")
	}
	f.Add(presence, uint8(0), uint16(0), byte(0), "", "")
	f.Add([]byte{}, uint8(0), uint16(0), byte(0), "", "")
	f.Add(bytes.Repeat([]byte{16}, 16), uint8(3), uint16(15), byte(0x80), "", "")
	f.Fuzz(func(t *testing.T, plain []byte, mode uint8, pos uint16, flip byte, data, sig string) {
		ec, err := Encrypt(Key{ID: "k1", Certificate: cert}, plain)
		if err != nil {
			t.Fatal(err)
		}
		if flip == 0 {
			got, err := keys.Decrypt(&ec)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Decrypt(Encrypt(%q)) = %q, %v", plain, got, err)
			}
			return
		}
		tamper(&ec, mode%tamperModes, int(pos), flip, data, sig)
		got, err := keys.Decrypt(&ec)
		if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("tampered content (mode %d) gave %q, %v; want ErrTampered", mode%tamperModes, got, err)
		}
		if errors.Is(err, ErrMalformed) && mode%tamperModes != tamperReplace {
			t.Fatalf("tampered base64 content (mode %d) is malformed, not tampered: %v", mode%tamperModes, err)
		}
	})
}

// How FuzzDecrypt changes content.
const (
	tamperData    = iota // flip a byte of the data
	tamperSig            // of the signature
	tamperKey            // of the wrapped key
	tamperCut            // drop the data's last bytes
	tamperExtend         // append bytes to the data
	tamperReplace        // replace data and signature with the fuzzer's strings
	tamperModes
)

// tamper changes ec (flip is not 0): every mode but tamperReplace keeps
// the fields valid base64 of other bytes.
func tamper(ec *EncryptedContent, mode uint8, pos int, flip byte, data, sig string) {
	edit := func(field *string, change func([]byte) []byte) {
		b, _ := base64.StdEncoding.DecodeString(*field)
		*field = base64.StdEncoding.EncodeToString(change(b))
	}
	xor := func(b []byte) []byte { b[pos%len(b)] ^= flip; return b }
	switch mode {
	case tamperData:
		edit(&ec.Data, xor)
	case tamperSig:
		edit(&ec.DataSignature, xor)
	case tamperKey:
		edit(&ec.DataKey, xor)
	case tamperCut:
		edit(&ec.Data, func(b []byte) []byte { return b[:len(b)-1-pos%len(b)] })
	case tamperExtend:
		edit(&ec.Data, func(b []byte) []byte { return append(b, bytes.Repeat([]byte{flip}, 1+pos%32)...) })
	case tamperReplace:
		if data == ec.Data && sig == ec.DataSignature {
			sig += "A"
		}
		ec.Data, ec.DataSignature = data, sig
	}
}

// FuzzValidationTokens: Check accepts a POST's token exactly when it is
// signed by the identity platform's key, unaltered, unexpired, issued to
// Graph Change Tracking by the tenant its issuer names, for the tenant the
// POST's items come from and with that tenant's app as its audience.
// Tokens signed by another key, with an unknown kid, with HS256, or with
// a byte of their header, claims or signature changed are refused.
func FuzzValidationTokens(f *testing.F) {
	key, login := identityKeysBits(f, 512)
	forger, _ := rsa.GenerateKey(rand.Reader, 512)
	now := time.Unix(1_780_000_000, 0)
	v, err := NewValidator(f.Context(), ValidatorOptions{LoginURL: login, Audiences: []string{ourApp}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	const ownApp = "99999999-8888-7777-6666-555555555555"
	for _, c := range []struct {
		tid, aud, tenant, app string
		flags                 uint8
		minutes               int16
		tamper                uint16
	}{
		{tenant, ourApp, tenant, "", 0, 480, 0},
		{tenant, ourApp, tenant, "", flagV2, 480, 0},
		{tenant, ownApp, tenant, ownApp, 0, 480, 0},
		{tenant, ownApp, tenant, "", 0, 480, 0},
		{tenant, ourApp, "other", "", 0, 480, 0},
		{tenant, ourApp, tenant, "", 0, -5, 0},
		{tenant, ourApp, tenant, "", 0, -6, 0},
		{tenant, ourApp, tenant, "", signForger, 480, 0},
		{tenant, ourApp, tenant, "", signUnknownKid, 480, 0},
		{tenant, ourApp, tenant, "", signHS256, 480, 0},
		{tenant, ourApp, tenant, "", flagOtherCaller, 480, 0},
		{tenant, ourApp, tenant, "", flagForeignIssuer, 480, 0},
		{tenant, ourApp, tenant, "", 0, 480, 1},
		{tenant, ourApp, tenant, "", 0, 480, 2},
		{tenant, ourApp, tenant, "", 0, 480, 3},
		{"", ourApp, "", "", 0, 480, 0},
	} {
		f.Add(c.tid, c.aud, c.tenant, c.app, c.flags, c.minutes, c.tamper)
	}
	f.Fuzz(func(t *testing.T, tid, aud, tenantID, app string, flags uint8, minutes int16, tamper uint16) {
		tid, aud = jsonString(tid), jsonString(aud)
		caller, iss := ChangeTrackingAppID, "https://sts.windows.net/"+tid+"/"
		if flags&flagV2 != 0 {
			iss = login + "/" + tid + "/v2.0"
		}
		if flags&flagOtherCaller != 0 {
			caller = aud
		}
		if flags&flagForeignIssuer != 0 {
			iss = "https://evil.example/" + tid + "/"
		}
		claims := func(c jwt.MapClaims) {
			c["tid"], c["aud"], c["iss"] = tid, aud, iss
			c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix(), now.Add(time.Duration(minutes)*time.Minute).Unix()
			if flags&flagV2 != 0 {
				c["ver"], c["azp"] = "2.0", caller
				delete(c, "appid")
			} else {
				c["appid"] = caller
			}
		}
		var raw string
		switch flags & signMask {
		case signIdentity:
			raw = token(t, key, "k1", claims)
		case signForger:
			raw = token(t, forger, "k1", claims)
		case signUnknownKid:
			raw = token(t, key, "k9", claims)
		case signHS256:
			c := jwt.MapClaims{}
			claims(c)
			raw, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(ourApp))
		}
		if tamper != 0 {
			raw = tamperToken(raw, int(tamper))
		}
		err := v.Check([]string{raw}, []Expect{{TenantID: tenantID, AppID: app, Rich: true}})
		audience := ourApp
		if app != "" {
			audience = app
		}
		valid := flags&signMask == signIdentity && tamper == 0 && minutes > -5 && strings.EqualFold(caller, ChangeTrackingAppID) &&
			tid != "" && flags&flagForeignIssuer == 0 && strings.EqualFold(tid, tenantID) && strings.EqualFold(aud, audience)
		switch {
		case valid && err != nil:
			t.Fatalf("a genuine token for tenant %q and app %q was refused: %v", tenantID, audience, err)
		case !valid && err == nil:
			t.Fatalf("accepted a token that is not genuine for tenant %q and app %q: flags %08b, %d minutes, tamper %d, tid %q aud %q",
				tenantID, audience, flags, minutes, tamper, tid, aud)
		case err != nil && !errors.Is(err, ErrInvalidToken):
			t.Fatalf("refused with %v, not ErrInvalidToken", err)
		}
	})
}

// FuzzValidationTokens' flags: how the token is signed (the low two
// bits), and what of its claims is changed.
const (
	signIdentity      = 0
	signForger        = 1
	signUnknownKid    = 2
	signHS256         = 3
	signMask          = 3
	flagV2            = 1 << 2
	flagOtherCaller   = 1 << 3
	flagForeignIssuer = 1 << 4
)

// jsonString is s as it comes back from JSON (invalid UTF-8 replaced),
// which is what a token carries.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// tamperToken flips a byte of one of the token's three parts (chosen by
// n), decoded, so that the part really differs.
func tamperToken(raw string, n int) string {
	parts := strings.Split(raw, ".")
	seg := n % len(parts)
	b, _ := base64.RawURLEncoding.DecodeString(parts[seg])
	if len(b) == 0 {
		b = []byte{0}
	} else {
		b[(n/len(parts))%len(b)] ^= byte(1 + n%255)
	}
	parts[seg] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}
