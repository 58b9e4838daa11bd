package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// ETags and If-Match, for the resources that carry a version (mapping
// rules, endpoints): a change names the version it was made against, and
// one made against an older version is refused with 412 instead of
// silently undoing what happened in between.

// etag is a strong validator of a resource's state: a digest of its JSON.
func etag(state any) string {
	b, _ := json.Marshal(state)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// Precondition is the conditional header of a change (exported: huma sets
// parameters only through exported embedded structs).
type Precondition struct {
	IfMatch string `header:"If-Match" doc:"Change only this version (the ETag of a GET); otherwise 412. * or absent: any version."`
}

// check answers 412 when the header names another version than current.
func (m Precondition) check(current string) error {
	if m.IfMatch == "" || m.IfMatch == "*" {
		return nil
	}
	for _, tag := range strings.Split(m.IfMatch, ",") {
		if strings.TrimSpace(tag) == current {
			return nil
		}
	}
	return huma.Error412PreconditionFailed("The resource changed since the version If-Match names (its ETag is now " + current + "): read it again.")
}
