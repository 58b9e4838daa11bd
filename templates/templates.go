// Package templates holds the templ components that render every page;
// handlers pass them small view structs, never database rows. The generated
// *_templ.go files are committed so that a fresh clone builds without templ.
package templates

import (
	"context"

	"presencebridge/static"
)

type versionKey struct{}

// WithVersion returns a context whose pages show version in their footer.
// The web shell sets it once per request, so page packages call
// Layout(title) without threading the build version through every view.
func WithVersion(ctx context.Context, version string) context.Context {
	return context.WithValue(ctx, versionKey{}, version)
}

func versionFrom(ctx context.Context) string {
	v, _ := ctx.Value(versionKey{}).(string)
	return v
}

// Asset returns the URL of a static asset, versioned by its content hash
// (see static.Path). Pages use it for every stylesheet, script and image so
// that none hard-codes a URL that long-lived caches would pin.
func Asset(name string) string { return static.Path(name) }
