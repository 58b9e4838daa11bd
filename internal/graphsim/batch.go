package graphsim

import "github.com/go-chi/chi/v5"

// batchRoutes serves /$batch.
func (s *Sim) batchRoutes(r chi.Router) {}
