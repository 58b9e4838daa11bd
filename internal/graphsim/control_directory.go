package graphsim

import "github.com/go-chi/chi/v5"

// directoryControlRoutes: groups and directory changes (users added, removed, renamed).
func (s *Sim) directoryControlRoutes(r chi.Router) {}
