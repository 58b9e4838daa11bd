package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"presencebridge/internal/graph/graphapi"
)

// userFields are the properties read for every user. accountEnabled is
// outside Graph's default set, so everything is named.
var userFields = []string{"id", "userPrincipalName", "mail", "displayName", "accountEnabled", "userType"}

// pageSize is $top for user listings: Graph's maximum for users.
const pageSize = 999

// GetUser reads a user by object id or UPN.
func (c *Client) GetUser(ctx context.Context, idOrUPN string) (graphapi.User, error) {
	u, err := c.users().ByUserId(idOrUPN).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userFields},
	})
	if err != nil {
		return graphapi.User{}, wrap("get user "+idOrUPN, err)
	}
	return userOf(u), nil
}

// FindUsers lists the users matching filter across all pages. It asks for
// an advanced query (ConsistencyLevel: eventual with $count), which every
// filter Graph supports on users accepts, and which endsWith, ne and long
// in-lists need. The header is not carried to next pages by the SDK, so
// the page iterator is given it again.
func (c *Client) FindUsers(ctx context.Context, filter string) ([]graphapi.User, error) {
	h := abs.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	count, top := true, c.top()
	first, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		Headers: h,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
			Filter: &filter, Select: userFields, Count: &count, Top: &top,
		},
	})
	if err != nil {
		return nil, wrap("find users where "+truncate(filter, 80), err)
	}
	it, err := msgraphcore.NewPageIterator[models.Userable](first, c.adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, wrap("find users", err)
	}
	it.SetHeaders(h)
	var out []graphapi.User
	err = it.Iterate(ctx, func(u models.Userable) bool {
		out = append(out, userOf(u))
		return true
	})
	return out, wrap("find users where "+truncate(filter, 80), err)
}

// GroupMembers lists the users in groupID, nested groups flattened
// (transitiveMembers), across pages. It asks for every member type and keeps
// the users: the OData cast to users would need an advanced query.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]graphapi.User, error) {
	top := c.top()
	first, err := groups.NewGroupsRequestBuilderInternal(c.path(), c.adapter).ByGroupId(groupID).TransitiveMembers().Get(ctx,
		&groups.ItemTransitiveMembersRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.ItemTransitiveMembersRequestBuilderGetQueryParameters{Select: userFields, Top: &top},
		})
	if err != nil {
		return nil, wrap("list members of group "+groupID, err)
	}
	it, err := msgraphcore.NewPageIterator[models.DirectoryObjectable](first, c.adapter, models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, wrap("list members of group "+groupID, err)
	}
	var out []graphapi.User
	err = it.Iterate(ctx, func(o models.DirectoryObjectable) bool {
		if u, ok := o.(models.Userable); ok { // the @odata.type discriminator picked the type
			out = append(out, userOf(u))
		}
		return true
	})
	return out, wrap("list members of group "+groupID, err)
}

func (c *Client) users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(c.path(), c.adapter)
}

func (c *Client) top() int32 {
	if c.pageSize > 0 {
		return c.pageSize
	}
	return pageSize
}

// userOf converts a user. accountEnabled is absent when the token may not
// read it (User.ReadBasic.All); such a user counts as enabled, since Graph
// showed it.
func userOf(u models.Userable) graphapi.User {
	enabled := true
	if e := u.GetAccountEnabled(); e != nil {
		enabled = *e
	}
	return graphapi.User{
		ID:             deref(u.GetId()),
		UPN:            deref(u.GetUserPrincipalName()),
		Mail:           deref(u.GetMail()),
		DisplayName:    deref(u.GetDisplayName()),
		AccountEnabled: enabled,
		UserType:       deref(u.GetUserType()),
	}
}

// notFound is the error for a lookup Graph answered with an empty list.
func notFound(what string) *graphapi.Error {
	return &graphapi.Error{Status: http.StatusNotFound, Code: "Request_ResourceNotFound",
		Message: fmt.Sprintf("%s was not found.", what)}
}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
