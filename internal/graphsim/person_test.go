package graphsim

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestPersonSignsInApprovesMFAAndReportsPageErrors(t *testing.T) {
	f := newFixture(t)
	ten, mon := f.tenant(), f.monitor()
	cfg := f.oauthConfig(ten.ID.String())
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))

	q, err := NewPerson().SignIn(ctx(t), authURL, mon.UPN, mon.Password)
	if err != nil || q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("SignIn = %v, %v", q, err)
	}
	if _, err := cfg.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("the code does not redeem: %v", err)
	}

	_, err = NewPerson().SignIn(ctx(t), authURL, mon.UPN, "wrong")
	if msg, ok := IsPageError(err); !ok || !strings.HasPrefix(msg, "AADSTS50126") {
		t.Errorf("wrong password: %v", err)
	}

	f.call("", "PATCH", "/_sim/users/"+mon.ID.String(), map[string]bool{"mfaRequired": true})
	if q, err := NewPerson().SignIn(ctx(t), authURL, mon.UPN, mon.Password); err != nil || q.Get("code") == "" {
		t.Errorf("MFA approved: %v, %v", q, err)
	}
	p := NewPerson()
	p.DeclineMFA = true
	if q, err := p.SignIn(ctx(t), authURL, mon.UPN, mon.Password); err != nil || q.Get("error") != "access_denied" {
		t.Errorf("MFA declined: %v, %v", q, err)
	}
	if q, err := NewPerson().Decline(ctx(t), authURL); err != nil || q.Get("error") != "access_denied" {
		t.Errorf("Decline: %v, %v", q, err)
	}
}
