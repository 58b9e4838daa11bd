package graphsim

import "github.com/go-chi/chi/v5"

// notifyControlRoutes: churn scenarios, notification faults and delivery stats.
func (s *Sim) notifyControlRoutes(r chi.Router) {}
