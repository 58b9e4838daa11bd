package onboarding

import (
	"errors"
	"io"
	"net/http"

	"presencebridge/internal/onboarding"
	"presencebridge/templates"
)

// saveForm is POST /onboarding/form. With errors the page comes back with
// each message beside its field and everything typed kept (422).
func (h *handler) saveForm(w http.ResponseWriter, r *http.Request) {
	tenantID, ok := h.requireTenant(w, r)
	if !ok {
		return
	}
	f := onboarding.Form{Company: r.PostFormValue("company"), MicrosoftTenant: r.PostFormValue("microsoftTenant"),
		AdminEmail: r.PostFormValue("adminEmail"), TelephonyAccount: r.PostFormValue("telephonyAccount"),
		UsersSource: r.PostFormValue("usersSource"), Users: r.PostFormValue("users"), Group: r.PostFormValue("group"),
		EventTarget: r.PostFormValue("eventTarget"), WebhookURL: r.PostFormValue("webhookUrl")}
	ctx := r.Context()
	fe, err := h.csvUpload(r, &f)
	if err != nil {
		h.fail(w, r, "read upload", err)
		return
	}
	if fe == nil {
		fe, err = h.svc.SaveForm(ctx, tenantID, f, h.actor(ctx, tenantID))
		if err != nil {
			h.fail(w, r, "save form", err)
			return
		}
	}
	if fe != nil {
		h.renderWith(w, r, tenantID, http.StatusUnprocessableEntity, func(v *templates.OnboardingView) {
			v.Form = templates.FormView{Company: f.Company, MicrosoftTenant: f.MicrosoftTenant, AdminEmail: f.AdminEmail,
				TelephonyAccount: f.TelephonyAccount, UsersSource: f.UsersSource, Users: f.Users, Group: f.Group,
				EventTarget: f.EventTarget, WebhookURL: f.WebhookURL, Errors: fe}
		})
		return
	}
	h.flash(ctx, "form", done("Saved.", "Next, authorize Presence Bridge in Microsoft 365."))
	redirect(w, r, "/onboarding#step-authorize")
}

// csvUpload puts an uploaded CSV file's users in the form, in place of the
// text typed; a file that cannot be read is an error on the users field.
func (h *handler) csvUpload(r *http.Request, f *onboarding.Form) (onboarding.FieldErrors, error) {
	file, hdr, err := r.FormFile("usersFile")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if hdr.Size == 0 {
		return nil, nil // the browser sends an empty part when no file was chosen
	}
	b, err := io.ReadAll(file)
	if err != nil {
		return nil, err
	}
	users, err := onboarding.UsersFromCSV(b)
	if err != nil {
		return onboarding.FieldErrors{"users": "The file " + hdr.Filename + " was not used: " + err.Error()}, nil
	}
	f.Users, f.UsersSource = users, "list"
	return nil, nil
}
