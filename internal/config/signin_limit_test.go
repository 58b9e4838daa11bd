package config

import (
	"strings"
	"testing"
)

func TestTheSignInRateLimitIsSixtyAMinuteUnlessSet(t *testing.T) {
	cfg, err := Load(validProduction, false)
	if err != nil || cfg.SignInRateLimit != 60 {
		t.Fatalf("default: %v, %v", cfg, err)
	}
	if cfg, err := Load(with(validProduction, "PB_SIGNIN_RATE_LIMIT", "600"), false); err != nil || cfg.SignInRateLimit != 600 {
		t.Errorf("600: %v, %v", cfg, err)
	}
	if _, err := Load(with(validProduction, "PB_SIGNIN_RATE_LIMIT", "0"), false); err == nil || !strings.Contains(err.Error(), "PB_SIGNIN_RATE_LIMIT: must be at least 1") {
		t.Errorf("0: %v", err)
	}
}
