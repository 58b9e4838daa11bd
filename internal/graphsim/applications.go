package graphsim

import "github.com/go-chi/chi/v5"

// applicationRoutes serves /applications.
func (s *Sim) applicationRoutes(r chi.Router) {}
