// Package static holds the web assets (CSS, images), embedded in the binary,
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

//go:embed css
var FS embed.FS

// Prefix is where the assets are mounted.
const Prefix = "/static/"

var (
	hashOnce sync.Once
	hashes   map[string]string // asset name → short content hash
)

func loadHashes() {
	hashes = map[string]string{}
	fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		hashes[p] = hex.EncodeToString(sum[:6])
		return nil
	})
}

// Path returns the URL of an asset with its content hash, for pages:
// Path("css/app.css") = "/static/css/app.css?v=3f2a…". A changed file gets a
// new URL, so browsers may cache every URL forever.
func Path(name string) string {
	hashOnce.Do(loadHashes)
	if h, ok := hashes[name]; ok {
		return Prefix + name + "?v=" + h
	}
	return Prefix + name
}

// Handler serves the assets. A request carrying the current hash is cached
// for a year as immutable; any other (an old page, a hand-typed URL) must
// revalidate, so nobody keeps a stale stylesheet.
func Handler() http.Handler {
	hashOnce.Do(loadHashes)
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		if h, ok := hashes[name]; ok && r.URL.Query().Get("v") == h {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}
