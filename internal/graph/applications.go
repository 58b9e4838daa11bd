package graph

import (
	"context"

	"github.com/microsoftgraph/msgraph-sdk-go/applications"

	"presencebridge/internal/graph/graphapi"
)

// AppSecrets lists the client secrets of the app registration with
// clientID (GET /applications?$filter=appId eq '…'). The registration lives
// only in the app's home tenant, so the token must be for that tenant
// (Application.Read.All); elsewhere the app is NotFound.
func (c *Client) AppSecrets(ctx context.Context, clientID string) ([]graphapi.SecretCredential, error) {
	filter := "appId eq " + odataString(clientID)
	resp, err := applications.NewApplicationsRequestBuilderInternal(c.path(), c.adapter).Get(ctx,
		&applications.ApplicationsRequestBuilderGetRequestConfiguration{
			QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{
				Filter: &filter, Select: []string{"id", "appId", "passwordCredentials"},
			},
		})
	if err != nil {
		return nil, wrap("read secrets of app "+clientID, err)
	}
	apps := resp.GetValue()
	if len(apps) == 0 {
		return nil, wrap("read secrets of app "+clientID, notFound("Application "+clientID))
	}
	var out []graphapi.SecretCredential
	for _, pc := range apps[0].GetPasswordCredentials() {
		s := graphapi.SecretCredential{
			DisplayName: deref(pc.GetDisplayName()),
			Hint:        deref(pc.GetHint()),
			Expires:     deref(pc.GetEndDateTime()),
		}
		if id := pc.GetKeyId(); id != nil {
			s.KeyID = id.String()
		}
		out = append(out, s)
	}
	return out, nil
}
