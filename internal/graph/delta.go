package graph

import (
	"context"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"

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
	ri, err := delta.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return graphapi.DeltaPage{}, wrap("users delta", err)
	}
	var resp struct {
		Value []struct {
			jsonUser
			Removed *struct {
				Reason string `json:"reason"`
			} `json:"@removed"` // {"reason": "changed"|"deleted"}
		} `json:"value"`
		NextLink  string `json:"@odata.nextLink"`
		DeltaLink string `json:"@odata.deltaLink"`
	}
	if err := c.sendJSON(ctx, ri, &resp); err != nil {
		return graphapi.DeltaPage{}, wrap("users delta", err)
	}
	page := graphapi.DeltaPage{NextLink: resp.NextLink, DeltaLink: resp.DeltaLink}
	for _, u := range resp.Value {
		if u.Removed != nil {
			page.Removed = append(page.Removed, graphapi.RemovedUser{ID: u.ID, Reason: u.Removed.Reason})
			continue
		}
		page.Users = append(page.Users, u.user())
	}
	return page, nil
}

// jsonUser is a user as Graph's JSON has it, decoded by encoding/json.
type jsonUser struct {
	ID             string `json:"id"`
	UPN            string `json:"userPrincipalName"`
	Mail           string `json:"mail"`
	DisplayName    string `json:"displayName"`
	AccountEnabled *bool  `json:"accountEnabled"` // absent without User.Read.All: enabled, as userOf reads it
	UserType       string `json:"userType"`
}

func (u jsonUser) user() graphapi.User {
	return graphapi.User{ID: u.ID, UPN: u.UPN, Mail: u.Mail, DisplayName: u.DisplayName,
		AccountEnabled: u.AccountEnabled == nil || *u.AccountEnabled, UserType: u.UserType}
}
