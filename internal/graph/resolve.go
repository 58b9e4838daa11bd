package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"presencebridge/internal/graph/graphapi"
)

// batchSize is Graph's limit of requests per $batch.
const batchSize = 20

// ResolveUsers looks up UPNs or mail addresses with $batch, 20 lookups per
// request: first each as a UPN (GET /users/{upn}); what is not found and
// looks like an address, then by mail ($filter=mail eq '…'). Each input
// ends in exactly one map. A step Graph throttled (an inner 429, which the
// SDK never retries: it only sees the outer 200) fails with its own
// Retry-After, for the caller to try again later.
func (c *Client) ResolveUsers(ctx context.Context, upnsOrMails []string) (map[string]graphapi.User, map[string]error) {
	found, failed := map[string]graphapi.User{}, map[string]error{}
	var inputs []string
	seen := map[string]bool{}
	for _, in := range upnsOrMails {
		if !seen[in] {
			seen[in] = true
			inputs = append(inputs, in)
		}
	}

	byUPN := c.resolveRound(ctx, inputs, func(in string) (*abs.RequestInformation, error) {
		return c.users().ByUserId(in).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userFields},
		})
	}, models.CreateUserFromDiscriminatorValue)
	var byMail []string
	for _, in := range inputs {
		r := byUPN[in]
		switch {
		case r.err == nil:
			found[in] = userOf(r.value.(models.Userable))
		case graphapi.IsNotFound(r.err) && strings.Contains(in, "@"):
			byMail = append(byMail, in)
		default:
			failed[in] = r.err
		}
	}
	if len(byMail) == 0 {
		return found, failed
	}
	top := int32(1)
	mails := c.resolveRound(ctx, byMail, func(in string) (*abs.RequestInformation, error) {
		filter := "mail eq " + odataString(in)
		return c.users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: userFields, Top: &top},
		})
	}, models.CreateUserCollectionResponseFromDiscriminatorValue)
	for _, in := range byMail {
		r := mails[in]
		if r.err != nil {
			failed[in] = r.err
			continue
		}
		page := r.value.(models.UserCollectionResponseable).GetValue()
		if len(page) == 0 {
			failed[in] = wrap("resolve "+in, notFound("No user with UPN or mail "+in))
			continue
		}
		found[in] = userOf(page[0])
	}
	return found, failed
}

type stepResult struct {
	value any
	err   error
}

// resolveRound sends one request per input in $batch requests of
// batchSize and returns each input's parsed answer or error.
func (c *Client) resolveRound(ctx context.Context, inputs []string, request func(string) (*abs.RequestInformation, error),
	parse absser.ParsableFactory) map[string]stepResult {
	out := make(map[string]stepResult, len(inputs))
	for start := 0; start < len(inputs); start += batchSize {
		chunk := inputs[start:min(start+batchSize, len(inputs))]
		batch := msgraphcore.NewBatchRequest(c.adapter)
		steps := map[string]string{} // step id → input
		for _, in := range chunk {
			ri, err := request(in)
			if err == nil {
				var item msgraphcore.BatchItem
				if item, err = batch.AddBatchRequestStep(*ri); err == nil {
					steps[*item.GetId()] = in
					continue
				}
			}
			out[in] = stepResult{err: wrap("resolve "+in, err)}
		}
		if len(steps) == 0 {
			continue
		}
		resp, err := batch.Send(ctx, c.adapter)
		for id, in := range steps {
			if err != nil {
				out[in] = stepResult{err: wrap("resolve "+in, err)}
				continue
			}
			out[in] = stepOf(resp, id, in, parse)
		}
	}
	return out
}

func stepOf(resp msgraphcore.BatchResponse, id, in string, parse absser.ParsableFactory) stepResult {
	item := resp.GetResponseById(id)
	if item == nil || item.GetStatus() == nil { // GetBatchResponseById would dereference nil
		return stepResult{err: wrap("resolve "+in, errors.New("$batch answer lacks this step"))}
	}
	if st := *item.GetStatus(); st >= http.StatusBadRequest {
		return stepResult{err: wrap("resolve "+in, batchError(st, item.GetHeaders(), item.GetBody()))}
	}
	v, err := msgraphcore.GetBatchResponseById[absser.Parsable](resp, id, parse)
	if err != nil {
		return stepResult{err: wrap("resolve "+in, err)}
	}
	return stepResult{value: v}
}
