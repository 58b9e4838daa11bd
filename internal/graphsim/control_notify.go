package graphsim

import "net/http"

// notifyControlRoutes: churn scenarios, notification faults and delivery stats.
func (s *Sim) notifyControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"GET", "/subscriptions", "", "every live subscription, of every app",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Subscriptions()) }},
		{"GET", "/stats", "", "change-notification delivery statistics",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.NotificationStats()) }},
		{"POST", "/notifications/tick", "", "run due notification work now (after moving a test's clock)",
			func(w http.ResponseWriter, r *http.Request) {
				s.TickNotifications()
				w.WriteHeader(http.StatusNoContent)
			}},
		{"POST", "/notifications/forgive", "",
			"end every endpoint's slow or dropping penalty now, as if its 10 minutes had passed (what it held is sent); answers how many were penalised",
			func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]int{"forgiven": s.ForgiveEndpoints()})
			}},
		{"POST", "/notifications/http-hosts", `{"hosts": ["web"]}`,
			"allow plain-HTTP notification URLs on these hosts (loopback always is; \"*\" for any)", s.ctlHTTPHosts},
		{"POST", "/faults/notifications", `{"notificationUrl": "http://localhost:8080/graph/notifications", "subscriptionId": "", "latencyMs": 0, "status": 503, "drop": 0, "failValidation": false, "times": 3}`,
			"make deliveries to a notification URL or subscription slow, fail, dropped or fail validation; 201 with its id", s.ctlAddNotificationFault},
		{"GET", "/faults/notifications", "", "the notification faults in force",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.NotificationFaults()) }},
		{"DELETE", "/faults/notifications/{id}", "", "remove a notification fault",
			ctlRemove("notification fault", s.RemoveNotificationFault)},
		{"POST", "/churn", `{"tenantId": "", "users": 25, "rate": 5}`,
			"move users (of one tenant, or any) between Teams states, rate changes a second in all; 201 with its id", s.ctlStartChurn},
		{"GET", "/churn", "", "the churns running",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Churns()) }},
		{"DELETE", "/churn/{id}", "", "stop a churn", ctlRemove("churn", s.StopChurn)},
	}
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
