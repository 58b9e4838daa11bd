package graph

import (
	"context"
	"time"

	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/subscriptions"

	"presencebridge/internal/graph/graphapi"
)

// CreateSubscription creates a subscription; Graph first validates the
// notification URLs with a handshake (answered by web/graphhook). For
// presence: delegated tokens only (403 otherwise), at most 60 minutes,
// 409 when the resource or this user already has one for this app.
func (c *Client) CreateSubscription(ctx context.Context, spec graphapi.SubscriptionSpec) (graphapi.Subscription, error) {
	s := models.NewSubscription()
	changeType := spec.ChangeType
	if changeType == "" {
		changeType = "updated"
	}
	s.SetChangeType(&changeType)
	s.SetResource(&spec.Resource)
	s.SetNotificationUrl(&spec.NotificationURL)
	if spec.LifecycleNotificationURL != "" {
		s.SetLifecycleNotificationUrl(&spec.LifecycleNotificationURL)
	}
	exp := spec.ExpiresAt.UTC()
	s.SetExpirationDateTime(&exp)
	if spec.ClientState != "" {
		s.SetClientState(&spec.ClientState)
	}
	if spec.IncludeResourceData {
		rich := true
		s.SetIncludeResourceData(&rich)
	}
	if spec.EncryptionCertificate != "" {
		s.SetEncryptionCertificate(&spec.EncryptionCertificate)
		s.SetEncryptionCertificateId(&spec.EncryptionCertificateID)
	}
	tls := "v1_2"
	s.SetLatestSupportedTlsVersion(&tls)
	got, err := c.subscriptions().Post(ctx, s, nil)
	if err != nil {
		return graphapi.Subscription{}, wrap("create subscription for "+truncate(spec.Resource, 80), err)
	}
	return subscriptionOf(got), nil
}

// RenewSubscription moves a subscription's expiry (PATCH); Graph treats a
// renewal as a reauthorization too. NotFound means it expired or was
// deleted: create it again.
func (c *Client) RenewSubscription(ctx context.Context, id string, expires time.Time) (graphapi.Subscription, error) {
	s := models.NewSubscription()
	exp := expires.UTC()
	s.SetExpirationDateTime(&exp) // the backing store sends only what was set
	got, err := c.subscriptions().BySubscriptionId(id).Patch(ctx, s, nil)
	if err != nil {
		return graphapi.Subscription{}, wrap("renew subscription "+id, err)
	}
	return subscriptionOf(got), nil
}

// ReauthorizeSubscription answers a reauthorizationRequired lifecycle
// event without changing the expiry.
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	return wrap("reauthorize subscription "+id, c.subscriptions().BySubscriptionId(id).Reauthorize().Post(ctx, nil))
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	return wrap("delete subscription "+id, c.subscriptions().BySubscriptionId(id).Delete(ctx, nil))
}

// GetSubscription reads one subscription.
func (c *Client) GetSubscription(ctx context.Context, id string) (graphapi.Subscription, error) {
	got, err := c.subscriptions().BySubscriptionId(id).Get(ctx, nil)
	if err != nil {
		return graphapi.Subscription{}, wrap("get subscription "+id, err)
	}
	return subscriptionOf(got), nil
}

// ListSubscriptions lists the subscriptions this app holds that the token
// may see (a delegated token: the ones its user created), across pages.
func (c *Client) ListSubscriptions(ctx context.Context) ([]graphapi.Subscription, error) {
	first, err := c.subscriptions().Get(ctx, nil)
	if err != nil {
		return nil, wrap("list subscriptions", err)
	}
	it, err := msgraphcore.NewPageIterator[models.Subscriptionable](first, c.adapter, models.CreateSubscriptionCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, wrap("list subscriptions", err)
	}
	var out []graphapi.Subscription
	err = it.Iterate(ctx, func(s models.Subscriptionable) bool {
		out = append(out, subscriptionOf(s))
		return true
	})
	return out, wrap("list subscriptions", err)
}

func (c *Client) subscriptions() *subscriptions.SubscriptionsRequestBuilder {
	return subscriptions.NewSubscriptionsRequestBuilderInternal(c.path(), c.adapter)
}

func subscriptionOf(s models.Subscriptionable) graphapi.Subscription {
	return graphapi.Subscription{
		ID:                       deref(s.GetId()),
		Resource:                 deref(s.GetResource()),
		ChangeType:               deref(s.GetChangeType()),
		NotificationURL:          deref(s.GetNotificationUrl()),
		LifecycleNotificationURL: deref(s.GetLifecycleNotificationUrl()),
		ExpiresAt:                deref(s.GetExpirationDateTime()),
		ClientState:              deref(s.GetClientState()),
		CreatorID:                deref(s.GetCreatorId()),
		ApplicationID:            deref(s.GetApplicationId()),
		IncludeResourceData:      deref(s.GetIncludeResourceData()),
		EncryptionCertificateID:  deref(s.GetEncryptionCertificateId()),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
