package web

import (
	"net/http/pprof"

	"github.com/go-chi/chi/v5"
)

// profilerPrefix is where Go's profiler answers (net/http/pprof): only on
// the admin listener (separateAdmin), and only when there is one — it
// shows the process's internals, and a CPU profile costs the process
// while it runs. make bench-load's operator reads where a role's time goes
// there (go tool pprof http://<PB_ADMIN_ADDR>/debug/pprof/profile).
const profilerPrefix = "/debug/pprof"

func mountProfiler(r chi.Router) {
	r.HandleFunc(profilerPrefix+"/*", pprof.Index) // the index, and heap, goroutine, allocs… by name
	r.HandleFunc(profilerPrefix+"/cmdline", pprof.Cmdline)
	r.HandleFunc(profilerPrefix+"/profile", pprof.Profile)
	r.HandleFunc(profilerPrefix+"/symbol", pprof.Symbol)
	r.HandleFunc(profilerPrefix+"/trace", pprof.Trace)
}
