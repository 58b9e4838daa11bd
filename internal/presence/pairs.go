package presence

import (
	"slices"
	"strings"
	"time"
)

// What Graph lets an application write into Teams presence: an
// availability only ever comes with certain activities, and setPresence
// (the app's own presence session) and setUserPreferredPresence (what the
// person would pick in Teams) accept different pairs. Graph refuses any
// other pair with a 400, so they are checked before Graph is called and a
// refusal can name the pairs allowed (docs/graph.md#setting-presence).
// Graph's pages spell the values in PascalCase; they are compared
// case-insensitively, as everywhere else.
//
// https://learn.microsoft.com/en-us/graph/api/presence-setpresence
// https://learn.microsoft.com/en-us/graph/api/presence-setuserpreferredpresence

// Pair is an availability with its activity, as Graph spells them.
type Pair struct {
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
}

// String reads "Busy/InACall".
func (p Pair) String() string { return p.Availability + "/" + p.Activity }

// sessionPairs are setPresence's. DoNotDisturb/Presenting is the newest:
// an older version of the page said DoNotDisturb could not be set.
var sessionPairs = []Pair{
	{"Available", "Available"},
	{"Busy", "InACall"},
	{"Busy", "InAConferenceCall"},
	{"Away", "Away"},
	{"DoNotDisturb", "Presenting"},
}

// preferredPairs are setUserPreferredPresence's; Offline/OffWork is
// Teams' "Appear offline".
var preferredPairs = []Pair{
	{"Available", "Available"},
	{"Busy", "Busy"},
	{"DoNotDisturb", "DoNotDisturb"},
	{"BeRightBack", "BeRightBack"},
	{"Away", "Away"},
	{"Offline", "OffWork"},
}

// SessionPairs are the pairs setPresence accepts, in Microsoft's order.
func SessionPairs() []Pair { return slices.Clone(sessionPairs) }

// PreferredPairs are the pairs setUserPreferredPresence accepts.
func PreferredPairs() []Pair { return slices.Clone(preferredPairs) }

// ValidSessionPair reports whether setPresence accepts the pair.
func ValidSessionPair(availability, activity string) bool {
	_, ok := MatchSessionPair(availability, activity)
	return ok
}

// ValidPreferredPair reports whether setUserPreferredPresence accepts the pair.
func ValidPreferredPair(availability, activity string) bool {
	_, ok := MatchPreferredPair(availability, activity)
	return ok
}

// MatchSessionPair finds the setPresence pair written in any case, spelt as
// Graph spells it.
func MatchSessionPair(availability, activity string) (Pair, bool) {
	return match(sessionPairs, availability, activity)
}

// MatchPreferredPair finds the setUserPreferredPresence pair written in any
// case, spelt as Graph spells it.
func MatchPreferredPair(availability, activity string) (Pair, bool) {
	return match(preferredPairs, availability, activity)
}

func match(pairs []Pair, availability, activity string) (Pair, bool) {
	i := slices.IndexFunc(pairs, func(p Pair) bool {
		return strings.EqualFold(p.Availability, availability) && strings.EqualFold(p.Activity, activity)
	})
	if i < 0 {
		return Pair{}, false
	}
	return pairs[i], true
}

// Lifetimes of what is written (docs/graph.md#setting-presence).
const (
	// MinSessionExpiry and MaxSessionExpiry bound setPresence's
	// expirationDuration (PT5M to PT4H); Graph refuses anything outside.
	MinSessionExpiry = 5 * time.Minute
	MaxSessionExpiry = 4 * time.Hour
	// GraphSessionExpiry is what Graph applies when no expirationDuration
	// is sent.
	GraphSessionExpiry = 5 * time.Minute
	// SessionFade is how long an Available session holds without being
	// set again: then it shows Available/AvailableInactive, after as long
	// again Away/Away, whatever its expiry. Only Available fades.
	SessionFade = 5 * time.Minute

	// DefaultSessionExpiry is ours for a session set without an expiry,
	// sized for a phone call. The platform sets Busy/InACall when a call
	// starts and clears it when it ends, so the expiry matters only when
	// the clear never comes (the platform lost track of the call, or
	// crashed): then Teams goes on saying "In a call" for at most an hour.
	// Graph's own 5 minutes would make the platform set every call again
	// every few minutes, and with thousands of agents on calls those
	// refreshes alone would eat into the 1,500 requests per 30 s a tenant
	// has for presence (docs/graph.md#throttling). A call longer than an
	// hour is set again by the caller before the hour ends.
	DefaultSessionExpiry = time.Hour
)

// DefaultPreferredExpiry is how long Graph keeps a preferred presence set
// without an expiry: a day for Busy and DoNotDisturb, a week otherwise.
func DefaultPreferredExpiry(availability string) time.Duration {
	if strings.EqualFold(availability, "Busy") || strings.EqualFold(availability, "DoNotDisturb") {
		return 24 * time.Hour
	}
	return 7 * 24 * time.Hour
}

// ValidSessionExpiry reports whether setPresence accepts d as its
// expirationDuration.
func ValidSessionExpiry(d time.Duration) bool {
	return d >= MinSessionExpiry && d <= MaxSessionExpiry
}
