package graphsim

import "github.com/go-chi/chi/v5"

// subscriptionRoutes serves /subscriptions.
func (s *Sim) subscriptionRoutes(r chi.Router) {}
