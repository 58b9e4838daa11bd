// Package engine is the presence engine: it keeps every active tenant's
// Microsoft Graph presence subscriptions alive and covering exactly the
// users on its roster, and re-reads presence wherever coverage may have
// had a gap. It is layered:
//
//   - Engine keeps one monitor's subscription (create, renew, replace,
//     adopt on 409, delete);
//   - Reconciler brings a tenant's subscriptions in line with its roster
//     (users sharded over monitors, subscriptions of monitors no longer
//     in use swept, repairs after new subscriptions);
//   - Runner is the pass over tenants, one process at a time per tenant
//     (token refresh, lifecycle notifications, reconciliation, queued
//     re-reads and the periodic repair, the tenant's health and alerts).
//
// Budget keeps presence reads within Graph's throttling limits per tenant
// and per app. The engine talks to Graph only through the interfaces of
// internal/graph/graphapi, never the SDK.
package engine
