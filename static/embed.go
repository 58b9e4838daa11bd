// Package static holds the web assets (CSS, scripts, images), embedded in the binary,
// and serves them under /static/ with long-lived caching made safe by
// content-hash versions in their URLs.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

// FS holds every asset, by its path under static/ ("css/app.css").
//
//go:embed css img js
var FS embed.FS

// Prefix is where Handler expects to be mounted.
const Prefix = "/static/"

// Assets are versioned by a query (app.css?v=<hash>) rather than by renaming
// the files (app-<hash>.css): the files keep their plain names in the tree,
// nothing has to be generated at build time, and the hash is computed from
// the embedded bytes, so it cannot go stale. Any URL with the current hash
// may be cached forever, because changed content means a changed URL.
var hashes = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		panic("static: hash embedded assets: " + err.Error()) // an embed.FS cannot fail to read
	}
	return m
})

// Path returns the URL of an asset with its content hash, for pages:
// Path("css/app.css") = "/static/css/app.css?v=3f2a…". It panics when no
// such asset is embedded: a mistyped name is a programming error, and any
// test rendering the page catches it, where a silent 404 would not.
func Path(name string) string {
	h, ok := hashes()[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return Prefix + name + "?v=" + h
}

// Handler serves the assets at Prefix. A request carrying the current hash
// is cached for a year as immutable; any other (an old page, a hand-typed
// URL) must revalidate, so nobody keeps a stale stylesheet. Directories are
// not listed.
func Handler() http.Handler {
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		h, known := hashes()[name]
		if !ok || !known {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == h {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
