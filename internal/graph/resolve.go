package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	abs "github.com/microsoft/kiota-abstractions-go"

	"presencebridge/internal/graph/graphapi"
)

// batchSize is Graph's limit of requests per $batch.
const batchSize = 20

// filterValues is how many values one lookup's in-list carries: Graph
// limits a $filter to 15 or-ed expressions by default, the values of an in
// list counted one each ("Too many child clauses specified in search filter
// expression containing 'OR' operators: 16. Max allowed: 15."; the
// filter-query-parameter page and "query parameter limitations" in Graph's
// known issues). So a $batch looks up 20 × 15 = 300 users, not 20.
const filterValues = 15

// ResolveUsers looks up UPNs, object ids or mail addresses with $batch
// requests of 20 lookups, each lookup a $filter of up to 15 values:
// first as object ids (id in (…), for the GUIDs) and UPNs
// (userPrincipalName in (…)); what is not found and looks like an address,
// then by mail (mail in (…)). Graph compares these case-insensitively and
// leaves out what it does not find. Each input ends in exactly one map. A
// lookup Graph throttled (an inner 429, which the SDK never retries: it
// only sees the outer 200) fails its inputs with its own Retry-After, for
// the caller to try again later; one Graph refused (400) is asked again a
// value at a time, so that one odd input does not fail 14 others.
//
// The $batch answers are decoded here into small structs: kiota's parse
// node trees for them were 40–46 % of serve's CPU in a cold start of 100
// tenants (issue 16).
func (c *Client) ResolveUsers(ctx context.Context, upnsOrMails []string) (map[string]graphapi.User, map[string]error) {
	found, failed := map[string]graphapi.User{}, map[string]error{}
	var ids, upns []string
	seen := map[string]bool{}
	for _, in := range upnsOrMails {
		if seen[in] {
			continue
		}
		seen[in] = true
		if _, err := uuid.Parse(in); err == nil && len(in) == 36 { // the canonical form only, not {…} or urn:uuid:
			ids = append(ids, in)
		} else {
			upns = append(upns, in)
		}
	}
	first := c.lookUp(ctx, []lookup{{prop: "id", values: ids}, {prop: "userPrincipalName", values: upns}})
	var byMail []string
	for _, l := range [][]string{ids, upns} {
		for _, in := range l {
			r := first[in]
			switch {
			case r.err == nil && r.found:
				found[in] = r.user
			case r.err == nil && strings.Contains(in, "@"):
				byMail = append(byMail, in)
			case r.err == nil:
				failed[in] = wrap("resolve "+in, notFound("No user with UPN or object id "+in))
			default:
				failed[in] = r.err
			}
		}
	}
	if len(byMail) == 0 {
		return found, failed
	}
	mails := c.lookUp(ctx, []lookup{{prop: "mail", values: byMail}})
	for _, in := range byMail {
		switch r := mails[in]; {
		case r.err != nil:
			failed[in] = r.err
		case !r.found:
			failed[in] = wrap("resolve "+in, notFound("No user with UPN or mail "+in))
		default:
			found[in] = r.user
		}
	}
	return found, failed
}

// lookup is values of one property to find users by.
type lookup struct {
	prop   string
	values []string
}

// lookupResult is one input's answer: its user, not found (neither), or
// the error of the request that carried it.
type lookupResult struct {
	user  graphapi.User
	found bool
	err   error
}

// filterStep is one inner request of a $batch: a $filter on prop with
// values, and the request's id in the batch.
type filterStep struct {
	id     string
	prop   string
	values []string
}

// lookUp finds users by the lookups' values, filterValues to an inner
// request and batchSize inner requests to a $batch, and answers every
// value. Inner requests Graph refused with 400 are asked again a value at
// a time.
func (c *Client) lookUp(ctx context.Context, lookups []lookup) map[string]lookupResult {
	out := map[string]lookupResult{}
	var steps []filterStep
	for _, l := range lookups {
		for start := 0; start < len(l.values); start += filterValues {
			steps = append(steps, filterStep{prop: l.prop, values: l.values[start:min(start+filterValues, len(l.values))]})
		}
	}
	var singly []filterStep
	for start := 0; start < len(steps); start += batchSize {
		chunk := steps[start:min(start+batchSize, len(steps))]
		for _, s := range c.sendFilters(ctx, chunk, out) {
			for _, v := range s.values {
				singly = append(singly, filterStep{prop: s.prop, values: []string{v}})
			}
		}
	}
	for start := 0; start < len(singly); start += batchSize {
		c.sendFilters(ctx, singly[start:min(start+batchSize, len(singly))], out)
	}
	return out
}

// userQuery is $select for every lookup; $top is Graph's largest page, so
// that fifteen values' users fit one (several users can share a mail).
var userQuery = "&$select=" + strings.Join(userFields, ",") + "&$top=" + strconv.Itoa(pageSize)

// sendFilters sends steps as one $batch and records each value's answer
// in out. Steps of more than one value that Graph refused with 400 are
// returned unanswered, to be asked a value at a time.
func (c *Client) sendFilters(ctx context.Context, steps []filterStep, out map[string]lookupResult) (refused []filterStep) {
	fail := func(s filterStep, err error) {
		for _, v := range s.values {
			out[v] = lookupResult{err: wrap("resolve "+v, err)}
		}
	}
	type innerRequest struct {
		ID     string `json:"id"`
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	reqs := make([]innerRequest, len(steps))
	byID := make(map[string]int, len(steps))
	for i := range steps {
		steps[i].id = strconv.Itoa(i + 1)
		byID[steps[i].id] = i
		quoted := make([]string, len(steps[i].values))
		for k, v := range steps[i].values {
			quoted[k] = odataString(v)
		}
		filter := steps[i].prop + " eq " + quoted[0]
		if len(quoted) > 1 {
			filter = steps[i].prop + " in (" + strings.Join(quoted, ",") + ")"
		}
		reqs[i] = innerRequest{ID: steps[i].id, Method: http.MethodGet, URL: "/users?$filter=" + url.QueryEscape(filter) + userQuery}
	}
	answer, err := c.sendBatch(ctx, reqs)
	if err != nil {
		for _, s := range steps {
			fail(s, err)
		}
		return nil
	}
	answered := make([]bool, len(steps))
	for _, r := range answer.Responses {
		i, ok := byID[r.ID]
		if !ok || answered[i] {
			continue
		}
		answered[i] = true
		s := steps[i]
		if r.Status >= http.StatusBadRequest {
			if r.Status == http.StatusBadRequest && len(s.values) > 1 {
				refused = append(refused, s)
				continue
			}
			fail(s, innerError(r.Status, r.Headers, r.Body))
			continue
		}
		var page struct {
			Value    []jsonUser `json:"value"`
			NextLink string     `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			fail(s, fmt.Errorf("$batch answer %s is not a user collection: %w", r.ID, err))
			continue
		}
		// Graph matches case-insensitively and answers in its own order:
		// each value takes the first user whose property equals it.
		for _, u := range page.Value {
			key := u.ID
			switch s.prop {
			case "userPrincipalName":
				key = u.UPN
			case "mail":
				key = u.Mail
			}
			for _, v := range s.values {
				if strings.EqualFold(v, key) && !out[v].found {
					out[v] = lookupResult{found: true, user: u.user()}
				}
			}
		}
		for _, v := range s.values {
			if _, ok := out[v]; !ok {
				if page.NextLink != "" && len(s.values) > 1 {
					// More than a page of users for these values (a
					// shared mail): asked again alone, the first page
					// holds its user if there is one.
					refused = append(refused, filterStep{prop: s.prop, values: []string{v}})
					continue
				}
				out[v] = lookupResult{}
			}
		}
	}
	for i, s := range steps {
		if !answered[i] {
			fail(s, errors.New("$batch answer lacks this step"))
		}
	}
	return refused
}

// batchAnswer is a $batch response, decoded leanly.
type batchAnswer struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int32             `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// sendBatch posts a $batch and decodes the answer leanly (sendJSON).
func (c *Client) sendBatch(ctx context.Context, reqs any) (batchAnswer, error) {
	var answer batchAnswer
	body, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		return answer, err
	}
	ri := abs.NewRequestInformation()
	ri.Method = abs.POST
	ri.UrlTemplate = "{+baseurl}/$batch"
	ri.PathParameters = c.path()
	ri.SetStreamContentAndContentType(body, "application/json")
	err = c.sendJSON(ctx, ri, &answer)
	return answer, err
}

// innerError is an inner response's error: its status, Retry-After and
// request-id headers, and Graph's error body.
func innerError(status int32, headers map[string]string, body json.RawMessage) error {
	var b map[string]any
	_ = json.Unmarshal(body, &b) // a body that is not Graph's error shape leaves the status alone
	return batchError(status, headers, b)
}
