package graphsim

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// notifyControlRoutes: churn scenarios, notification faults and delivery stats.
//
//	GET    /_sim/subscriptions                  every live subscription
//	GET    /_sim/stats                          NotificationStats
//	POST   /_sim/notifications/tick             TickNotifications (after moving a fake clock)
//	POST   /_sim/notifications/http-hosts       {"hosts":["web"]}: plain-HTTP endpoints allowed there
//	POST   /_sim/faults/notifications           NotificationFault → 201 with its id
//	GET    /_sim/faults/notifications
//	DELETE /_sim/faults/notifications/{id}
//	POST   /_sim/churn                          {"tenantId"?, "users": U, "rate": R} → 201 ChurnStatus
//	GET    /_sim/churn
//	DELETE /_sim/churn/{id}
func (s *Sim) notifyControlRoutes(r chi.Router) {
	r.Get("/subscriptions", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Subscriptions()) })
	r.Get("/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.NotificationStats()) })
	r.Post("/notifications/tick", func(w http.ResponseWriter, r *http.Request) {
		s.TickNotifications()
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/notifications/http-hosts", s.ctlHTTPHosts)
	r.Post("/faults/notifications", s.ctlAddNotificationFault)
	r.Get("/faults/notifications", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.NotificationFaults())
	})
	r.Delete("/faults/notifications/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.RemoveNotificationFault(chi.URLParam(r, "id")) {
			ctlFail(w, http.StatusNotFound, "no notification fault %s", chi.URLParam(r, "id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/churn", s.ctlStartChurn)
	r.Get("/churn", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Churns()) })
	r.Delete("/churn/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.StopChurn(chi.URLParam(r, "id")) {
			ctlFail(w, http.StatusNotFound, "no churn %s", chi.URLParam(r, "id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Sim) ctlAddNotificationFault(w http.ResponseWriter, r *http.Request) {
	var f NotificationFault
	if !decode(w, r, &f) {
		return
	}
	out, err := s.AddNotificationFault(f)
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Sim) ctlStartChurn(w http.ResponseWriter, r *http.Request) {
	var spec ChurnSpec
	if !decode(w, r, &spec) {
		return
	}
	st, err := s.StartChurn(spec)
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (s *Sim) ctlHTTPHosts(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Hosts []string `json:"hosts"`
	}
	if !decode(w, r, &body) {
		return
	}
	if len(body.Hosts) == 0 {
		ctlFail(w, http.StatusBadRequest, "hosts must name at least one host")
		return
	}
	s.AllowHTTPNotifications(body.Hosts...)
	w.WriteHeader(http.StatusNoContent)
}
