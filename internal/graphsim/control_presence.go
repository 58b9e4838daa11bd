package graphsim

import "github.com/go-chi/chi/v5"

// presenceControlRoutes: users' own presence, throttling limits and 429 storms.
func (s *Sim) presenceControlRoutes(r chi.Router) {}
