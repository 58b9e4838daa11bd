package onboarding

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"sync"
)

// copyScript is the one script of the onboarding pages: the Copy URL
// button. Served here rather than from static/ because it belongs to
// these pages alone.
//
//go:embed copy.js
var copyScript []byte

var copyScriptHash = sync.OnceValue(func() string {
	sum := sha256.Sum256(copyScript)
	return hex.EncodeToString(sum[:6])
})

// copyScriptURL carries the script's content hash, so it may be cached
// for good: a changed script has a changed URL.
func copyScriptURL() string { return "/onboarding/assets/copy.js?v=" + copyScriptHash() }

func serveCopyScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	if r.URL.Query().Get("v") == copyScriptHash() {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(copyScript)
}
