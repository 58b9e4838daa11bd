package graphsim

import "github.com/go-chi/chi/v5"

// userRoutes serves users, /users/delta and group members.
func (s *Sim) userRoutes(r chi.Router) {}
