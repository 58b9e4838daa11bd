package graph

import (
	"context"
	"fmt"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"

	"presencebridge/internal/graph/graphapi"
)

// GroupMembersDelta reads one page of a delta round over groupID's direct
// members: GET /groups/delta()?$filter=id eq '…'&$select=members on a
// first page, else the link verbatim (it carries the filter). Graph sends
// each member as {"@odata.type", "id"} in the group's "members@delta",
// with "@removed" when it left (group-delta.md, delta-query-groups.md);
// the SDK leaves that array in the group's additional data.
func (c *Client) GroupMembersDelta(ctx context.Context, groupID, link string) (graphapi.GroupDeltaPage, error) {
	delta := groups.NewGroupsRequestBuilderInternal(c.path(), c.adapter).Delta()
	cfg := &groups.DeltaRequestBuilderGetRequestConfiguration{Headers: abs.NewRequestHeaders()}
	if link != "" {
		delta = delta.WithUrl(link)
	} else {
		filter := "id eq " + odataString(groupID)
		cfg.QueryParameters = &groups.DeltaRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "members"}}
	}
	if c.pageSize > 0 {
		cfg.Headers.Add("Prefer", fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))
	}
	resp, err := delta.GetAsDeltaGetResponse(ctx, cfg)
	if err != nil {
		return graphapi.GroupDeltaPage{}, wrap("group delta of "+groupID, err)
	}
	page := graphapi.GroupDeltaPage{NextLink: deref(resp.GetOdataNextLink()), DeltaLink: deref(resp.GetOdataDeltaLink())}
	for _, g := range resp.GetValue() {
		if !strings.EqualFold(deref(g.GetId()), groupID) {
			continue // a link made for another filter; never expected
		}
		data := g.GetAdditionalData()
		if _, gone := data["@removed"]; gone {
			page.GroupRemoved = true
		}
		items, _ := data["members@delta"].([]any)
		for _, raw := range items {
			m, ok := raw.(map[string]any)
			if !ok {
				continue
			}
			_, removed := m["@removed"]
			typ := strings.TrimPrefix(strings.TrimPrefix(str(m["@odata.type"]), "#"), "microsoft.graph.")
			page.Members = append(page.Members, graphapi.MemberChange{ID: str(m["id"]), Type: typ, Removed: removed})
		}
	}
	return page, nil
}
