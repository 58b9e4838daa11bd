// Package faults is Presence Bridge's fault suite: each scenario starts
// the real things on loopback — the presencebridge binary in its roles,
// PostgreSQL from the local binaries behind proxies the suite can cut,
// graphsim as Microsoft 365, a recording webhook receiver — drives
// presence changes through graphsim, injects one fault, and checks the
// ledger: every notification Graph considers acknowledged is delivered
// downstream, dead-lettered or still pending; nothing is lost; duplicates
// carry the same webhook-id; each user's webhooks arrive in sequence
// order. The scenarios are this package's tests; FAULTS.md lists them
// with their last results (make faults runs the full set).
package faults
