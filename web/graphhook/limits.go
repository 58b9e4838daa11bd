package graphhook

import "time"

// What one notification POST may hold. Microsoft documents no limit on
// the items of a changeNotificationCollection or on its size (neither
// https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks
// nor https://learn.microsoft.com/en-us/graph/api/resources/changenotificationcollection
// gives one), so the bounds are generous multiples of what we know is sent:
// graphsim batches at most 1,000 items per POST (maxBatchItems), and a rich
// presence item is about 1.7 KB — its envelope ~1.2 KB (ids, clientState,
// resource, a 2048-bit key's 344-character dataKey) and the encrypted
// presence ~0.5 KB — or ~3.6 KB with a status message (Teams allows 280
// characters) and an out-of-office reply of a kilobyte. A POST beyond them
// is refused (413, 400), and Graph retries it, so a bound too low would
// lose every item of such a POST after Graph's 4 hours of retries: they
// are kept at twice graphsim's batch, of items of 4 KiB.
const (
	// MaxItems bounds the items of one POST (400 beyond).
	MaxItems = 2000
	// MaxBody bounds one POST's body (413 beyond): 8 MiB, MaxItems items
	// of 4 KiB and room for the validation tokens.
	MaxBody = 8 << 20
)

// Deadline bounds one POST, from its arrival to our answer: reading its
// body, looking its subscriptions up and committing its items. Graph
// counts a POST delivered only on a 2xx within 3 seconds, and marks a URL
// slow (every tenant's notifications delayed) when more than 10 % of its
// answers take longer
// (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks,
// docs/graph.md#delivery-and-acknowledgement): a POST that cannot be done
// in 2 seconds is answered 503 (408 for a body that did not arrive), which
// Graph retries, leaving a second for the network between Graph and us.
const Deadline = 2 * time.Second

// DefaultMaxRequests is how many notification POSTs one receiver serves at
// once unless told otherwise: four times the POSTs graphsim sends one URL
// at once (maxPostsPerURL; Microsoft documents no figure). Each holds up to
// MaxBody and its parsed items, so the bound is also what a flood of
// oversized POSTs can make the receiver hold: a few hundred MiB at worst.
// More are answered 503 at once, not queued: Graph retries them, and a
// queue would only make every POST in it late.
const DefaultMaxRequests = 32
