package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
)

// subscriptions: each monitor with users holds a live subscription at
// Graph whose users are exactly the ones the roster assigns it.
func (v *Verifier) subscriptions(cov []store.Coverage) []Check {
	now := v.d.Now()
	var out []Check
	for _, m := range cov {
		if len(m.Assigned) == 0 && m.GraphID == "" {
			continue // nothing to cover, nothing held
		}
		c := Check{Name: "Subscription of " + m.UPN}
		renew := Fix{Kind: FixRenewMonitor, MonitorID: m.MonitorID,
			Sentence: "Renew asks Presence Bridge to remake it at once rather than on its next pass."}
		ids, parsed := graphapi.PresenceResourceIDs(m.Resource)
		switch {
		case m.GraphID == "" || m.Abandoned:
			c.Result, c.Detail, c.Fix = Fail, fmt.Sprintf("None at Microsoft for its %d users.", len(m.Assigned)), renew
		case m.ExpiresAt == nil || !m.ExpiresAt.After(now):
			c.Result, c.Detail, c.Fix = Fail, "It has expired: its users get no notifications.", renew
		case !parsed || !sameUsers(ids, m.Assigned):
			c.Result, c.Fix = Fail, renew
			c.Detail = fmt.Sprintf("It covers %d users, the roster assigns %d to this monitor, and they differ.", len(ids), len(m.Assigned))
		default:
			c.Result = Pass
			c.Detail = fmt.Sprintf("Covers its %d users; expires in %s.", len(ids), m.ExpiresAt.Sub(now).Round(time.Minute))
		}
		if c.Result != Pass && m.LastError != "" {
			c.Detail += " Last error: " + m.LastError
		}
		out = append(out, c)
	}
	return out
}

// sameUsers reports whether the resource's ids are exactly the assigned
// users (Graph's ids compared as GUIDs, whatever their case).
func sameUsers(ids []string, assigned []uuid.UUID) bool {
	if len(ids) != len(assigned) {
		return false
	}
	got := make([]uuid.UUID, 0, len(ids))
	for _, s := range ids {
		id, err := uuid.Parse(s)
		if err != nil {
			return false
		}
		got = append(got, id)
	}
	byBytes := func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }
	want := slices.Clone(assigned)
	slices.SortFunc(got, byBytes)
	slices.SortFunc(want, byBytes)
	return slices.Equal(got, want)
}

// notificationURL makes Graph's validation handshake against our public
// notification URL, as Graph makes it before creating a subscription
// (POST with validationToken in the query; the answer, within 10 seconds,
// is 200 text/plain with the token: docs/graph.md#validation-handshake).
// It is made from this deployment, which proves the public address routes
// to a receiver that answers; that Graph reaches it too is shown by the
// newest subscription Graph validated.
func (v *Verifier) notificationURL(ctx context.Context, cov []store.Coverage) Check {
	c := Check{Name: "Notification URL answers Graph's validation"}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	token := "verify-" + rand.Text()
	u, err := url.Parse(v.d.NotifyURL)
	if err != nil || v.d.NotifyURL == "" {
		c.Result, c.Detail = Fail, fmt.Sprintf("The notification URL %q is not a URL.", v.d.NotifyURL)
		c.Fix = Fix{Sentence: "Set PB_BASE_URL to the public https address Graph reaches."}
		return c
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		c.Result, c.Detail = Fail, err.Error()
		return c
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := v.d.HTTP.Do(req)
	if err != nil {
		c.Result, c.Detail = Fail, v.d.NotifyURL+" did not answer: "+err.Error()
		c.Fix = Fix{Sentence: "Make PB_BASE_URL reach the web role over https from the internet (load balancer, DNS, certificate)."}
		return c
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	if resp.StatusCode != http.StatusOK || string(body) != token {
		c.Result = Fail
		c.Detail = fmt.Sprintf("%s answered %d without echoing the token: something other than Presence Bridge answers there.", v.d.NotifyURL, resp.StatusCode)
		c.Fix = Fix{Sentence: "Route PB_BASE_URL's /graph/notifications to the web role."}
		return c
	}
	c.Result, c.Detail = Pass, v.d.NotifyURL+" echoed the validation token."
	var newest *time.Time
	for _, m := range cov {
		if m.GraphID != "" && m.CreatedAt != nil && (newest == nil || m.CreatedAt.After(*newest)) {
			newest = m.CreatedAt
		}
	}
	if newest != nil {
		c.Detail += " Microsoft last validated it " + newest.UTC().Format("2006-01-02 15:04 UTC") + ", creating a subscription."
	}
	return c
}

// endpoints sends each enabled endpoint a signed test event; a disabled
// one fails with Enable as the fix.
func (v *Verifier) endpoints(ctx context.Context, tenantID uuid.UUID, eps []store.Endpoint) []Check {
	out := make([]Check, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		out[i] = Check{Name: "Webhook " + ep.URL}
		if !ep.Enabled {
			out[i].Result, out[i].Detail = Fail, "It is disabled: "+ep.Reason
			out[i].Fix = Fix{Kind: FixEnableEndpoint, EndpointID: ep.ID,
				Sentence: "Enable it once the receiver is fixed; what it missed can be replayed."}
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			res, err := v.d.Tester.SendTest(ctx, tenantID, ep.ID)
			switch {
			case err != nil:
				out[i].Result, out[i].Detail = Fail, "The test event could not be sent: "+err.Error()
			case res.Error != "":
				out[i].Result = Fail
				out[i].Detail = fmt.Sprintf("A signed test event was refused (%d): %s", res.Status, res.Error)
				out[i].Fix = Fix{Sentence: "The receiver's owner fixes it: it must answer 2xx to events signed with the endpoint's secret."}
			default:
				out[i].Result = Pass
				out[i].Detail = fmt.Sprintf("Took a signed test event: %d in %s.", res.Status, res.Latency.Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	if len(eps) == 0 {
		out = append(out, Check{Name: "Webhooks", Result: Warn,
			Detail: "No webhook endpoint: presence reaches the platform only through the API's event stream.",
			Fix:    Fix{Sentence: "Add a webhook on the Integration page if the platform takes webhooks."}})
	}
	return out
}

// flowing: a notification arrived lately. Presence that did not change
// sends none, so silence is a warning, and Sync all re-reads it.
func (v *Verifier) flowing(ctx context.Context, tenantID uuid.UUID, cov []store.Coverage) ([]Check, error) {
	c := Check{Name: "Notifications arrive"}
	live := slices.ContainsFunc(cov, func(m store.Coverage) bool { return m.GraphID != "" && !m.Abandoned })
	at, err := v.d.Store.LastNotificationAt(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	quiet := v.d.Quiet.Round(time.Minute)
	switch {
	case at == nil && !live:
		c.Result, c.Detail = Fail, "None yet, and no subscription is live."
	case at == nil:
		c.Result, c.Detail = Warn, "None yet: none arrives until someone's presence changes."
		c.Fix = Fix{Kind: FixSyncAll, Sentence: "Sync all re-reads every user's presence now."}
	case v.d.Now().Sub(*at) > v.d.Quiet:
		c.Result = Warn
		c.Detail = fmt.Sprintf("None for %s (the last at %s). A quiet tenant sends none.", v.d.Now().Sub(*at).Round(time.Minute),
			at.UTC().Format("2006-01-02 15:04 UTC"))
		c.Fix = Fix{Kind: FixSyncAll, Sentence: "Sync all re-reads every user's presence now."}
	default:
		c.Result, c.Detail = Pass, fmt.Sprintf("The last arrived at %s, within %s.", at.UTC().Format("15:04:05 UTC"), quiet)
	}
	return []Check{c}, nil
}
