package graph

import (
	"context"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"presencebridge/internal/graph/graphapi"
)

// UsersDelta reads one page of a users delta round (GET /users/delta()):
// the first page of a full round when link is empty, else the page at link,
// a NextLink or DeltaLink returned earlier and used verbatim (it carries the
// round's $select). Reading page by page lets the caller keep its place;
// a 410 Gone or an expired token (IsNotFound/IsBadRequest, after 7 days)
// means: start again with an empty link.
func (c *Client) UsersDelta(ctx context.Context, link string) (graphapi.DeltaPage, error) {
	delta := c.users().Delta()
	cfg := &users.DeltaRequestBuilderGetRequestConfiguration{Headers: abs.NewRequestHeaders()}
	if link != "" {
		delta = delta.WithUrl(link)
	} else {
		cfg.QueryParameters = &users.DeltaRequestBuilderGetQueryParameters{Select: userFields}
	}
	if c.pageSize > 0 { // delta takes no $top; Graph honours this preference instead
		cfg.Headers.Add("Prefer", fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))
	}
	resp, err := delta.GetAsDeltaGetResponse(ctx, cfg)
	if err != nil {
		return graphapi.DeltaPage{}, wrap("users delta", err)
	}
	page := graphapi.DeltaPage{NextLink: deref(resp.GetOdataNextLink()), DeltaLink: deref(resp.GetOdataDeltaLink())}
	for _, u := range resp.GetValue() {
		if reason, ok := removed(u); ok {
			page.Removed = append(page.Removed, graphapi.RemovedUser{ID: deref(u.GetId()), Reason: reason})
			continue
		}
		page.Users = append(page.Users, userOf(u))
	}
	return page, nil
}

// removed reads a delta item's "@removed": {"reason": "changed"|"deleted"},
// which the SDK leaves in the user's additional data.
func removed(u models.Userable) (string, bool) {
	raw, ok := u.GetAdditionalData()["@removed"]
	if !ok {
		return "", false
	}
	if m, ok := raw.(map[string]any); ok {
		return str(m["reason"]), true
	}
	return "", true
}
