package web

import (
	"bytes"
	"testing"

	"presencebridge/internal/store/storetest"
)

func TestASealedSessionValueIsNotKeptInClearAndOpensOnlyUnderItsOwnKey(t *testing.T) {
	s := NewSessions(nil, SessionOptions{Ring: storetest.Ring(t)})
	ctx, err := s.Load(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSealed(ctx, "shown", []byte("whsec_c2VjcmV0")); err != nil {
		t.Fatal(err)
	}
	kept := s.GetBytes(ctx, "shown")
	if bytes.Contains(kept, []byte("whsec_c2VjcmV0")) {
		t.Fatal("the session keeps the value in clear")
	}
	// Moved under another key, it does not open.
	s.Put(ctx, "other", kept)
	if v, err := s.PopSealed(ctx, "other"); err == nil {
		t.Errorf("a value sealed for one key opened under another: %q", v)
	}
	if v, err := s.PopSealed(ctx, "shown"); err != nil || string(v) != "whsec_c2VjcmV0" {
		t.Errorf("PopSealed = %q, %v", v, err)
	}
	if v, err := s.PopSealed(ctx, "shown"); v != nil || err != nil {
		t.Errorf("taken twice: %q, %v", v, err)
	}

	unsealed := NewSessions(nil, SessionOptions{})
	ctx, _ = unsealed.Load(t.Context(), "")
	if err := unsealed.PutSealed(ctx, "shown", []byte("whsec_c2VjcmV0")); err == nil || unsealed.Exists(ctx, "shown") {
		t.Errorf("sessions without seal keys kept the value: %v", err)
	}
}
