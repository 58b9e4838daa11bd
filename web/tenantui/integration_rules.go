//lint:file-ignore ST1005 the errors are sentences shown on the rules form as they are

package tenantui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"presencebridge/internal/mappingrules"
	"presencebridge/internal/presence"
	"presencebridge/templates"
)

// The mapping rules' form: saved as PUT /api/v1/mapping-rules saves them
// (mappingrules.Change: the same validation, lock and audit), previewed
// as POST /api/v1/mapping-rules/preview does.

// parseRules reads the rules form. Its error says, in words, which field
// cannot be read; what reads but is no valid rule set is Validate's to
// say.
func parseRules(r *http.Request) (presence.Rules, templates.RulesForm, error) {
	r.ParseForm()
	v := r.PostFormValue
	form := templates.RulesForm{TalkingInCall: v("talkingInCall") == "on", TalkingInConference: v("talkingInConferenceCall") == "on",
		TalkingInMeeting: v("talkingInMeeting") == "on", TalkingPresenting: v("talkingPresenting") == "on",
		AvailableIdle: v("availableIdle"), BusyIdle: v("busyIdle"), Debounce: strings.TrimSpace(v("debounce")),
		OutOfOffice: v("outOfOffice"), StatusMessage: v("statusMessage"), Office: v("workLocation.office"),
		Remote: v("workLocation.remote"), TimeOff: v("workLocation.timeOff"), Overrides: strings.TrimSpace(v("overrides"))}
	rules := presence.Rules{TalkingInCall: form.TalkingInCall, TalkingInConference: form.TalkingInConference,
		TalkingInMeeting: form.TalkingInMeeting, TalkingPresenting: form.TalkingPresenting,
		AvailableIdle: presence.State(form.AvailableIdle), BusyIdle: presence.State(form.BusyIdle),
		OutOfOffice: presence.State(form.OutOfOffice), StatusMessage: presence.State(form.StatusMessage)}
	d, err := time.ParseDuration(form.Debounce)
	if err != nil {
		return rules, form, errors.New("Hold talking for: enter a duration such as 3s or 500ms.")
	}
	rules.Debounce = presence.Duration(d)
	for k, s := range map[string]string{"office": form.Office, "remote": form.Remote, "timeOff": form.TimeOff} {
		if s != "" {
			if rules.WorkLocation == nil {
				rules.WorkLocation = map[string]presence.State{}
			}
			rules.WorkLocation[k] = presence.State(s)
		}
	}
	for i, line := range strings.Split(form.Overrides, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		k, s, ok := strings.Cut(line, "=")
		if !ok {
			return rules, form, fmt.Errorf("Overrides, line %d: write Availability/Activity = state, such as Busy/InACall = talking.", i+1)
		}
		if rules.Overrides == nil {
			rules.Overrides = map[string]presence.State{}
		}
		rules.Overrides[strings.TrimSpace(k)] = presence.State(strings.TrimSpace(s))
	}
	return rules, form, nil
}

// saveRules is POST /integration/rules.
func (h *handler) saveRules(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	rules, form, err := parseRules(r)
	if err == nil {
		who := h.Viewer(r)
		_, err = mappingrules.Change(r.Context(), h.Store, who.TenantID, who.Actor,
			func(presence.Rules) (presence.Rules, error) { return rules, nil })
		var bad *mappingrules.Invalid
		if err != nil && !errors.As(err, &bad) {
			h.fail(w, r, "save mapping rules", err)
			return
		}
	}
	if err != nil {
		form.Error = sentence(err.Error())
		h.rulesPage(w, r, http.StatusUnprocessableEntity, form, nil)
		return
	}
	h.done(w, r, "/#rules", flash{Notice: &templates.Notice{OK: true, Title: "Mapping rules saved.",
		Detail: "They apply from each user's next presence change."}})
}

// previewRules is POST /integration/rules/preview: what the rules in the
// form give for common presences, unsaved — the whole page for the
// Preview button, only the preview (?fragment=1) for the live preview's
// script.
func (h *handler) previewRules(w http.ResponseWriter, r *http.Request) {
	rules, form, err := parseRules(r)
	if err == nil {
		err = rules.Validate()
	}
	status, rows := http.StatusOK, previewRows(rules)
	if err != nil {
		status, rows, form.Error = http.StatusUnprocessableEntity, nil, sentence(err.Error())
	}
	if r.URL.Query().Get("fragment") == "1" {
		if err != nil {
			h.render(w, r, status, templates.RulesPreviewError(form.Error))
			return
		}
		h.render(w, r, status, templates.RulesPreview(rows))
		return
	}
	h.rulesPage(w, r, status, form, rows)
}

// rulesPage is the section's page with the rules form as typed, and its
// preview (rows; none when the rules are not valid).
func (h *handler) rulesPage(w http.ResponseWriter, r *http.Request, status int, form templates.RulesForm, rows []templates.PreviewRow) {
	h.integrationPage(w, r, status, func(v *templates.IntegrationView) { v.Rules, v.Preview = form, rows })
}

// sentence starts msg with a capital and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
