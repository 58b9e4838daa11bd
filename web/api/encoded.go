package api

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// A body that is large and read often — the presence snapshot, a hundred
// pages of 1,000 users for a tenant of 100,000 — is written as JSON by its
// handler while it reads the rows (appendPresence), into a buffer used
// again for the next page, instead of being built as values for
// encoding/json to reflect over: on the snapshot that was two thirds of
// the API's allocations and most of the collector's work. The body's type
// is still the one the description is generated from; the tests validate
// what is written against that description, and TestPresenceIsWrittenAsEncodingJSONWritesIt
// holds the hand-written form to encoding/json's, byte for byte.

// encodedBody is a body whose handler may have written it as JSON already.
type encodedBody interface{ encodedJSON() *[]byte }

// jsonFormat is huma's JSON format, but for an encoded body, which it
// writes as it is and then hands its buffer back to encodedPool.
var jsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		if e, ok := v.(encodedBody); ok {
			if b := e.encodedJSON(); b != nil {
				_, err := w.Write(*b)
				encodedPool.Put(b)
				return err
			}
		}
		return huma.DefaultJSONFormat.Marshal(w, v)
	},
	Unmarshal: json.Unmarshal,
}

// encodedPool holds the buffers encoded bodies are written into.
var encodedPool = sync.Pool{New: func() any { return new([]byte) }}

// newEncoded is an empty buffer from the pool with room for about size
// bytes (growing it as it is written would leave the collector each
// smaller copy).
func newEncoded(size int) *[]byte {
	b := encodedPool.Get().(*[]byte)
	if cap(*b) < size {
		*b = make([]byte, 0, size)
	}
	*b = (*b)[:0]
	return b
}
